"""A holder looks up their number: picture check, SMS code (a wrong one first), live results."""

import pytest

from portal.sms.models import SmsMessage
from tests.browser.conftest import save_screenshot
from tests.portal.lookup.helpers import latest_code, simulated_apps

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
    assert page.locator("text=如 138****8000 可以接收验证码").is_visible()

    wrong = "000000" if latest_code() != "000000" else "111111"
    page.fill("input[name=code]", wrong)
    page.click("button:has-text('查询我的账号')")
    assert page.locator("text=验证码不正确或已失效").is_visible()

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


def test_holder_unbinds_all_at_once_from_the_results_on_a_phone(live_server, phone_page, celery_workers, simulator):
    """一键解绑: app01 unbinds at once, app06 refuses (the holder is offered a complaint), app07 takes
    it for later."""
    from portal.unbinding.models import UnbindRequest
    from tests.portal.lookup.helpers import wait_for
    from tests.portal.unbinding.helpers import number_with_previous_accounts

    simulated_apps(simulator, ["app01", "app06", "app07"], timeout_ms=2000, supports_unbind=True)
    phone = number_with_previous_accounts(["app01", "app06", "app07"])
    celery_workers.start("unbind-journey", "--concurrency", "2")
    celery_workers.wait_until_ready(1)
    page = phone_page

    page.goto(f"{live_server.url}/lookup/")
    page.fill("input[name=phone_number]", phone)
    page.fill("input[name=id_last6]", "40213X")
    page.fill("input[name=captcha_1]", "passed")
    page.click("form[action='/lookup/'] button[type=submit]")
    page.fill("input[name=code]", latest_code())
    page.click("form[action='/lookup/verify/'] button[type=submit]")
    page.wait_for_url("**/lookup/*/")
    page.wait_for_selector("#unbind-all", timeout=20000)  # shown once every app has answered

    page.click("#unbind-all")
    page.wait_for_selector("tr td.unbind .unbind-done", timeout=20000)
    page.wait_for_selector("tr td.unbind .unbind-refused", timeout=20000)
    page.wait_for_selector("tr td.unbind .unbind-sent", timeout=20000)  # its push may land last on a busy machine
    assert page.locator("td.unbind .unbind-sent").count() == 1  # accepted, to be answered later
    assert page.locator("td.unbind a.complaint").count() == 1  # the refusal can be complained about
    assert page.locator("#unbind-all").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    save_screenshot(page, "unbind-results-phone")
    assert wait_for(lambda: UnbindRequest.objects.filter(state="done").count() == 1)

    page.click("#unbinding a[href='/unbind/']")
    assert page.locator("#unbind-requests tbody tr").count() == 3
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
