"""A holder looks up their number: picture check, SMS code (a wrong one first), live results."""

import pytest

from portal.models import SmsMessage
from tests.browser.conftest import save_screenshot
from tests.portal.lookup_helpers import latest_code, simulated_apps

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_holder_looks_up_their_number_on_a_phone(live_server, phone_page, celery_workers, simulator):
    simulated_apps(simulator, ["app01", "app05", "app06", "app07"], timeout_ms=2000)
    simulated_apps(simulator, ["app03"], timeout_ms=2000)  # a failing member: its row says so, the rest go on
    celery_workers.start("journey", "--concurrency", "2")
    celery_workers.wait_until_ready(1)
    page = phone_page

    page.goto(f"{live_server.url}/")
    page.click("text=查询我的号码 >> nth=0")
    page.fill("input[name=phone_number]", "138-0013-8000")
    page.fill("input[name=id_last6]", "40213x")
    page.fill("input[name=captcha_1]", "passed")  # the test settings' captcha answer
    page.click("button:has-text('获取短信验证码')")
    assert page.locator("text=138****8000").is_visible()

    wrong = "000000" if latest_code() != "000000" else "111111"
    page.fill("input[name=code]", wrong)
    page.click("button:has-text('查询我的账号')")
    assert page.locator("text=还可以再试 4 次").is_visible()

    page.fill("input[name=code]", latest_code())
    page.click("button:has-text('查询我的账号')")
    page.wait_for_url("**/lookup/*/")
    assert page.locator("progress").is_visible()
    page.wait_for_selector("text=所有应用均已应答", timeout=20000)

    rows = page.locator("tbody tr")
    assert rows.count() == 5
    assert page.locator("tr.state-error").count() == 1  # the failing member
    assert page.locator("tr.state-answered, tr.state-no_account").count() == 4
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    save_screenshot(page, "lookup-results-phone")
    assert SmsMessage.objects.filter(purpose="lookup_summary").exists()
