"""Member staff upload a customer list on a phone; the progress bar follows the worker; the result downloads.
The pages pass axe-core and the CSP (no inline script)."""

import csv
from datetime import datetime

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from portal.recycling.models import NumberEvent
from tests.browser.conftest import save_screenshot
from tests.browser.test_accessibility import axe_violations
from tests.registry.factories import OrganisationFactory, platform_staff

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_member_staff_check_a_customer_list_and_download_the_result(live_server, phone_page, celery_workers, tmp_path):
    celery_workers.start("bulkcheck")
    celery_workers.wait_until_ready(1)
    carrier = OrganisationFactory(kind="basic_carrier", number_segments="138")
    NumberEvent.objects.create(
        carrier=carrier,
        event_id="c",
        phone_number="13800130000",
        type="cancelled",
        occurred_at=datetime(2025, 3, 1, 10, tzinfo=timezone.get_current_timezone()),
    )
    staff = platform_staff(organisation=OrganisationFactory(legal_name="示例银行"))
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

    rows = ["number,date"] + [f"1380013{i:04d},2025-01-01" for i in range(2000)] + ["12345,2025-01-01"]
    customers = tmp_path / "customers.csv"
    customers.write_text("\n".join(rows) + "\n", encoding="utf-8")

    page.goto(f"{live_server.url}/staff/")
    page.click("a[href='/staff/number-check-files/']")
    assert not axe_violations(page)
    page.set_input_files("input[type=file]", str(customers))
    page.click("form[enctype='multipart/form-data'] button[type=submit]")
    page.wait_for_url("**/staff/number-check-files/*/")
    assert page.locator("progress#progress").is_visible()
    page.wait_for_selector("a#result", timeout=90000)  # the page reloads itself when done
    assert page.locator("#rows_done").inner_text() == "2001" and page.locator("#rows_invalid").inner_text() == "1"
    assert page.locator("#rows_yes").inner_text() == "1" and page.locator("#rows_no_data").inner_text() == "0"
    assert not axe_violations(page)
    save_screenshot(page, "bulk-check-file-done-phone")

    with page.expect_download() as download:
        page.click("a#result")
    result = list(csv.reader(open(download.value.path(), encoding="utf-8-sig")))
    assert result[0] == ["row", "phone_number", "date", "answer", "reason", "reason_text"] and len(result) == 2002
    assert result[1][:5] == ["2", "13800130000", "2025-01-01", "yes", "cancelled_after"]
    assert result[-1][:5] == ["2002", "12345", "2025-01-01", "invalid", "bad_number"]
