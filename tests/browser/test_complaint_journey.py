"""A holder files a complaint with a photo on a phone; the platform's staff answer it in their console;
the holder sees the answer and rates it."""

import pytest
from PIL import Image

from complaints.models import Complaint
from tests.browser.conftest import save_screenshot, sign_in
from tests.portal.lookup.helpers import latest_code
from tests.registry.factories import (
    MemberAppFactory,
    OrganisationFactory,
    platform_staff,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def photo(tmp_path):
    path = tmp_path / "催收短信截图.jpg"
    Image.new("RGB", (60, 40), "white").save(path, format="JPEG")
    return path


def test_holder_complains_platform_answers_holder_rates(live_server, phone_page, page, tmp_path):
    organisation = OrganisationFactory(legal_name="浏览器贷科技有限公司")
    app = MemberAppFactory(organisation=organisation, name="浏览器贷", category="finance")
    staff = platform_staff(organisation=organisation, email="staff@loan.example.cn")
    holder = phone_page

    # The holder proves the number, then files with a photo; a fake "JPEG" is refused first.
    holder.goto(f"{live_server.url}/complaints/")
    holder.click("a[href='/complaints/new/']")
    holder.fill("input[name=phone_number]", "138 0013 8000")
    holder.fill("input[name=captcha_1]", "passed")
    holder.click("button[type=submit]:not(.link)")
    assert holder.locator("text=138****8000").is_visible()
    holder.fill("input[name=code]", latest_code())
    holder.click("button[type=submit]:not(.link)")
    holder.wait_for_url("**/complaints/new/details/")

    holder.check("input[name=category][value=debt_collection]")
    holder.select_option("select[name=app]", str(app.pk))
    holder.select_option("select[name=province]", "44")
    holder.fill("input[name=city]", "深圳")
    holder.fill("textarea[name=description]", "每天收到浏览器贷的催收短信，收件人是前机主。")
    holder.check("input[name=consent_to_share]")
    fake = tmp_path / "fake.jpg"
    fake.write_bytes(b"not really a picture")
    holder.set_input_files("input[name=evidence]", [str(fake)])
    holder.click("button[type=submit]:not(.link)")
    assert holder.locator("text=fake.jpg").first.is_visible()
    assert holder.input_value("textarea[name=description]") == "每天收到浏览器贷的催收短信，收件人是前机主。"
    holder.set_input_files("input[name=evidence]", [str(photo(tmp_path))])
    holder.click("button[type=submit]:not(.link)")
    holder.wait_for_url("**/complaints/TS*/")
    complaint = Complaint.objects.get()
    assert holder.locator(f"text={complaint.reference}").first.is_visible()
    assert holder.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    save_screenshot(holder, "complaint-filed-phone")

    # The platform's staff sign in with TOTP and answer in their console.
    sign_in(page, live_server, staff)
    page.goto(f"{live_server.url}/staff/complaints/?queue=open")
    page.click(f"a:has-text('{complaint.reference}')")
    assert page.locator("a.evidence").first.is_visible()  # the photo the holder agreed to share
    page.check("input[name=answer][value=closed_with_relief]")
    page.select_option("select[name=relief]", "collection_stopped")
    page.fill("textarea[name=text]", "已核实为前机主欠款，已停止向该号码发送催收短信。")
    page.click("form[action$='/answer/'] button[type=submit]")
    page.wait_for_url(f"**/staff/complaints/{complaint.reference}/")
    save_screenshot(page, "complaint-answered-console")

    # The holder sees the answer and rates it.
    holder.reload()
    assert holder.locator("text=已停止向该号码发送催收短信").is_visible()
    holder.check("input[name=score][value='5']")
    holder.click("button[name=rate]")
    holder.wait_for_url(f"**/complaints/{complaint.reference}/")
    complaint.refresh_from_db()
    assert complaint.state == Complaint.State.CLOSED and complaint.feedback_score == 5
    save_screenshot(holder, "complaint-rated-phone")
