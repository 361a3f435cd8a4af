"""Carrier staff upload the monthly file on a phone; the progress bar follows the worker; the rejected
rows download."""

import pytest
from django.conf import settings
from django.test import Client

from portal.recycling.models import NumberEvent
from registry.models import StaffUser
from tests.browser.conftest import save_screenshot
from tests.registry.factories import OrganisationFactory, StaffUserFactory

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_carrier_staff_upload_a_monthly_file_and_download_the_rejected_rows(
    live_server, phone_page, celery_workers, tmp_path
):
    celery_workers.start("uploads")
    celery_workers.wait_until_ready(1)
    carrier = OrganisationFactory(kind="basic_carrier", legal_name="示例移动")
    staff = StaffUserFactory(role=StaffUser.Role.CARRIER_STAFF, organisation=carrier)
    signed_in = Client()
    signed_in.force_login(staff)
    page = phone_page
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": signed_in.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )

    rows = (
        ["event_id,phone_number,type,occurred_at"]
        + [f"m{i},1380013{i:04d},cancelled,2026-01-10T09:30:00+08:00" for i in range(300)]
        + ["bad-1,12345,cancelled,2026-01-10T09:30:00+08:00"]
    )
    monthly = tmp_path / "2026-05.csv"
    monthly.write_text("\n".join(rows) + "\n", encoding="utf-8")

    page.goto(f"{live_server.url}/staff/")
    page.click("a[href='/staff/number-events/uploads/']")
    page.set_input_files("input[type=file]", str(monthly))
    page.click("form[enctype='multipart/form-data'] button[type=submit]")
    page.wait_for_url("**/staff/number-events/uploads/*/")
    assert page.locator("progress#progress").is_visible()
    page.wait_for_selector("a[href$='rejected.csv']", timeout=30000)  # the page reloads itself when done
    assert page.locator("#rows_accepted").inner_text() == "300" and page.locator("#rows_rejected").inner_text() == "1"
    save_screenshot(page, "carrier-upload-done-phone")

    with page.expect_download() as download:
        page.click("a[href$='rejected.csv']")
    text = open(download.value.path(), encoding="utf-8-sig").read()
    assert "bad-1" in text and "302" in text  # the line in the file: header, 300 good rows, then it
    assert NumberEvent.objects.filter(carrier=carrier).count() == 300

    page.goto(f"{live_server.url}/staff/number-events/uploads/")
    assert page.locator("text=2026-05.csv").is_visible()
    save_screenshot(page, "carrier-uploads-history-phone")


@pytest.mark.django_db(transaction=True)
def test_a_file_over_the_limit_is_refused_in_the_browser_before_it_is_sent(live_server, page, settings):
    settings.NUMBER_EVENT_UPLOAD_MAX_BYTES = 2 * 1024 * 1024
    staff = StaffUserFactory(role=StaffUser.Role.CARRIER_STAFF, organisation=OrganisationFactory(kind="basic_carrier"))
    signed_in = Client()
    signed_in.force_login(staff)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": signed_in.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page.goto(f"{live_server.url}/staff/number-events/uploads/")
    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    page.set_input_files(
        "input[type=file]", files=[{"name": "huge.csv", "mimeType": "text/csv", "buffer": b"1" * (3 * 1024 * 1024)}]
    )
    assert "“huge.csv”" in page.inner_text(".upload-too-large") and "2 MB" in page.inner_text(".upload-too-large")
    page.click("form[enctype='multipart/form-data'] button[type=submit]")
    assert posts == [] and page.url.endswith("/staff/number-events/uploads/")  # nothing was sent
