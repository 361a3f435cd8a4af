"""Playwright for Python driving Debian's Chromium (`apt-get install -y chromium`); no browser download."""

import contextlib
import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    # Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make between
    # browser steps are still synchronous, so Django's guard is lifted for browser tests only.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


# Every page of every journey reports what its Content-Security-Policy blocked: Chromium's console
# message, and the page's `securitypolicyviolation` event (the init script runs before the page's own).
REPORT_CSP_VIOLATIONS = """document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline")
                + " at " + e.documentURI);
});"""


def watched_page(context):
    """A new page whose CSP violations are collected in `page.csp_violations`."""
    page = context.new_page()
    page.set_default_timeout(15000)
    page.csp_violations = []
    page.add_init_script(REPORT_CSP_VIOLATIONS)
    page.on(
        "console",
        lambda message: (
            page.csp_violations.append(message.text)
            if "Content Security Policy" in message.text or message.text.startswith("CSP violation")
            else None
        ),
    )
    return page


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = watched_page(context)
    yield page
    context.close()
    assert not page.csp_violations, f"the Content-Security-Policy blocked part of a page: {page.csp_violations}"


@contextlib.contextmanager
def phone_width_page(browser, width: int = 375, height: int = 740):
    """A page on a phone's screen of `width` CSS pixels; its CSP violations fail the test."""
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height}, is_mobile=True)
    page = watched_page(context)
    yield page
    context.close()
    assert not page.csp_violations, f"the Content-Security-Policy blocked part of a page: {page.csp_violations}"


@pytest.fixture
def phone_page(browser):
    with phone_width_page(browser) as page:
        yield page


def save_screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, live_server, user, path: str = "/accounts/login/") -> None:
    """A staff user signs in through allauth: e-mail, password, then the TOTP code (factories' users)."""
    import pyotp

    page.goto(f"{live_server.url}{path}")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]:not(.link)")
    page.wait_for_url("**/accounts/2fa/authenticate/**")
    page.fill("input[name=code]", pyotp.TOTP(user.totp).now())
    page.click("button[type=submit]:not(.link)")
    page.wait_for_load_state()
