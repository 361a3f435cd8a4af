"""Every page a person can reach passes axe-core with no serious or critical violation (issue 17 §1):
the public pages, each step of the lookup, second-hand check, unbind tracking and complaint flows, the
staff pages of each role after sign-in, and the error pages. Screenshots of the 404 and a 503 at phone width.
"""

import time

import pyotp
import pytest

from complaints.models import Complaint
from tests.browser.conftest import save_screenshot
from tests.portal.fault_helpers import running_portal
from tests.portal.lookup.helpers import latest_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BLOCKING = ("serious", "critical")


def axe_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]


class Audit:
    """Visits pages and collects every blocking violation, so one run lists them all."""

    def __init__(self, page):
        self.page, self.found = page, {}

    def check(self, name: str):
        self.page.wait_for_load_state()
        violations = axe_violations(self.page)
        if violations:
            self.found[f"{name} {self.page.url}"] = violations

    def visit(self, url: str, name: str | None = None):
        self.page.goto(url)
        self.check(name or url)

    def assert_clean(self):
        assert not self.found, "\n".join(f"{page}:\n  " + "\n  ".join(v) for page, v in self.found.items())


def demo_sign_in(page, base: str, email: str, audit: Audit):
    """Sign in as a demo staff user (password, then TOTP), checking the TOTP step's page on the way."""
    from portal.devtools.demo import DEMO_PASSWORD, demo_totp_seeds

    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]:not(.link)")
    page.wait_for_url("**/accounts/2fa/authenticate/**")
    audit.check(f"TOTP step for {email}")
    if 30 - time.time() % 30 < 5:  # allauth takes the current 30 s window's code only: not one about to expire
        time.sleep(30 - time.time() % 30 + 0.5)
    page.fill("input[name=code]", pyotp.TOTP(demo_totp_seeds()[email]).now())
    with page.expect_navigation(timeout=60000):  # the machine may be busy: sign-in is not what is measured
        page.click("button[type=submit]:not(.link)")
    assert "/staff/" in page.url, (email, page.url, page.locator("main").inner_text()[:500])


def test_every_reachable_page_has_no_serious_or_critical_axe_violation(live_server, page):
    from portal.devtools.demo import load_demo
    from registry.models import MemberApp

    load_demo()
    base = live_server.url
    audit = Audit(page)

    for path in (
        "/",
        "/before-giving-up/",
        "/directory/",
        "/complaints/",
        "/statistics/",
        "/accounts/login/",
        "/accounts/password/reset/",
        "/no-such-page/",
    ):
        audit.visit(base + path)

    # the lookup: number, ID characters and picture; the code; the results (no worker: rows wait)
    audit.visit(base + "/lookup/")
    page.fill("input[name=phone_number]", "12345")  # refused first: the page with errors
    page.fill("input[name=captcha_1]", "passed")
    page.click("form[action='/lookup/'] button[type=submit]")
    audit.check("lookup refused")
    page.fill("input[name=phone_number]", "138 0013 8000")
    page.fill("input[name=id_last6]", "40213X")
    page.fill("input[name=captcha_1]", "passed")
    page.click("form[action='/lookup/'] button[type=submit]")
    audit.check("lookup code")
    page.fill("input[name=code]", latest_code())
    page.click("form[action='/lookup/verify/'] button[type=submit]")
    page.wait_for_url("**/lookup/*/")
    audit.check("lookup results")

    # "is my number second-hand?", and unbind tracking
    audit.visit(base + "/second-hand/")
    page.fill("input[name=phone_number]", "139 0013 9000")
    page.fill("input[name=captcha_1]", "passed")
    page.click("form[action='/second-hand/'] button[type=submit]")
    audit.check("second-hand code")
    page.fill("input[name=code]", latest_code())
    page.click("form[action='/second-hand/verify/'] button[type=submit]")
    page.wait_for_url("**/second-hand/result/")
    audit.check("second-hand result")
    audit.visit(base + "/unbind/")
    page.fill("input[name=phone_number]", "137 0013 7000")
    page.fill("input[name=captcha_1]", "passed")
    page.click("form[action='/unbind/'] button[type=submit]")
    audit.check("unbind code")

    # a complaint: prove the number, the form, the filed case, following it
    app = MemberApp.objects.order_by("pk").first()
    audit.visit(base + "/complaints/new/")
    page.fill("input[name=phone_number]", "136 0013 6000")
    page.fill("input[name=captcha_1]", "passed")
    page.click("button[type=submit]:not(.link)")
    audit.check("complaint code")
    page.fill("input[name=code]", latest_code())
    page.click("button[type=submit]:not(.link)")
    page.wait_for_url("**/complaints/new/details/")
    audit.check("complaint form")
    page.check("input[name=category][value=debt_collection]")
    page.select_option("select[name=app]", str(app.pk))
    page.select_option("select[name=province]", "44")
    page.fill("input[name=city]", "深圳")
    page.fill("textarea[name=description]", "每天收到催收短信，收件人是前机主。")
    page.check("input[name=consent_to_share]")
    page.click("button[type=submit]:not(.link)")
    page.wait_for_url("**/complaints/TS*/")
    audit.check("complaint filed")
    complaint = Complaint.objects.get()
    audit.visit(base + "/complaints/follow/")

    # staff of each role, after sign-in (the TOTP step too)
    roles = {
        "admin@demo.portal": [
            "/staff/",
            "/staff/lookups/",
            "/staff/sms-outbox/",
            "/staff/notices/",
            "/staff/complaints/",
            f"/staff/complaints/{complaint.reference}/",
            "/staff/unbind-requests/",
            "/staff/number-events/uploads/",
            "/staff/statistics/",
            "/staff/statistics/quarterly/",
        ],
        "platform@demo.portal": [
            "/staff/",
            "/staff/complaints/",
            "/staff/unbind-requests/",
            "/staff/notices/",
            "/staff/number-check-files/",
        ],
        "carrier@demo.portal": ["/staff/", "/staff/number-events/uploads/"],
        "regulator@demo.portal": ["/staff/", "/staff/statistics/", "/staff/statistics/quarterly/"],
    }
    for email, paths in roles.items():
        demo_sign_in(page, base, email, audit)
        for path in paths:
            audit.visit(base + path, f"{email} {path}")
        if email == "platform@demo.portal":
            own = MemberApp.objects.filter(organisation__staff__email=email).order_by("pk").first()
            for path in (f"/staff/apps/{own.pk}/", f"/staff/apps/{own.pk}/queries/", f"/staff/apps/{own.pk}/notices/"):
                audit.visit(base + path, f"{email} {path}")

    audit.assert_clean()


def test_error_pages_pass_axe_and_look_right_on_a_phone(live_server, browser, settings):
    settings.ROOT_URLCONF = "tests.portal.core.error_urls"
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    audit = Audit(page)
    try:
        audit.visit(f"{live_server.url}/no-such-page/", "404")
        save_screenshot(page, "error-404-phone")
        audit.visit(f"{live_server.url}/test-errors/denied/", "403")
        audit.visit(f"{live_server.url}/test-errors/boom/", "500")
        assert page.locator("code").inner_text()  # the reference
        audit.visit(f"{live_server.url}/test-errors/sms/", "503 (SMS provider)")
        with running_portal(database_down=True) as (url, _log):
            audit.visit(f"{url}/lookup/", "503 (PostgreSQL down)")
            assert page.locator("h1").inner_text() == "服务暂时不可用"
            assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgba(0, 0, 0, 0)"  # styled
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            save_screenshot(page, "error-503-database-down-phone")
    finally:
        context.close()
    audit.assert_clean()
