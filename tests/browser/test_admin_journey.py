"""An administrator signs in with TOTP, adds a member app in the admin, and the public directory shows it."""

import pyotp
import pytest

from tests.browser.conftest import save_screenshot
from tests.registry.factories import OrganisationFactory, StaffUserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_administrator_adds_an_app_that_appears_in_the_directory(live_server, page, phone_page):
    admin = StaffUserFactory(email="admin@wg.example.cn", is_superuser=True)
    OrganisationFactory(legal_name="浏览器测试科技有限公司")

    page.goto(f"{live_server.url}/admin/")
    assert "/accounts/login/" in page.url  # the admin signs in through allauth
    page.fill("input[name=login]", admin.email)
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]:not(.link)")

    page.wait_for_url("**/accounts/2fa/authenticate/**")
    page.fill("input[name=code]", "000000")
    page.click("button[type=submit]:not(.link)")
    assert page.locator(".errorlist, .error, [role=alert]").count() > 0 or "authenticate" in page.url
    page.fill("input[name=code]", pyotp.TOTP(admin.totp).now())
    page.click("button[type=submit]:not(.link)")
    page.wait_for_url(f"{live_server.url}/admin/")

    page.goto(f"{live_server.url}/admin/registry/memberapp/add/")
    page.click(".field-organisation .select2-selection")
    page.fill(".select2-search__field", "浏览器测试")
    page.click(".select2-results__option:has-text('浏览器测试科技有限公司')")
    page.fill("#id_name", "浏览器打车")
    page.select_option("#id_category", "life_services")
    page.check("#id_supports_unbind")
    page.fill("#id_go_live_date", "2026-01-01")
    page.fill("#id_unbind_instructions", "打开 App → 设置 → 解绑手机号")
    page.click("input[name=_save]")
    page.wait_for_url(f"{live_server.url}/admin/registry/memberapp/")
    assert page.locator("text=浏览器打车").count() >= 1

    page.goto(f"{live_server.url}/directory/")
    app = page.locator("li.app", has_text="浏览器打车")
    assert app.is_visible()
    assert "解绑" in app.inner_text()
    save_screenshot(page, "directory-desktop")

    # The same directory on a phone: nothing wider than the screen.
    phone_page.goto(f"{live_server.url}/directory/")
    assert phone_page.locator("li.app", has_text="浏览器打车").is_visible()
    assert phone_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    save_screenshot(phone_page, "directory-phone")
