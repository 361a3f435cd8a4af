"""Platform staff sign in with TOTP on a phone, find an unbind request counting down, and refuse it
with a reason the holder then reads."""

import pytest

from portal.unbinding import services
from portal.unbinding.models import UnbindRequest
from tests.browser.conftest import save_screenshot, sign_in
from tests.portal.lookup.helpers import simulated_apps
from tests.portal.unbinding.test_unbind import _lookup_with_accounts
from tests.registry.factories import OrganisationFactory, platform_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_platform_staff_answer_an_unbind_request_on_a_phone(live_server, phone_page, simulator):
    organisation = OrganisationFactory()
    (app,) = simulated_apps(simulator, ["app05"], organisation=organisation)  # pull queue: waits for an answer
    (request,) = services.unbind_request_create(lookup=_lookup_with_accounts(app))
    staff = platform_staff(organisation, email="staff@platform.example.cn")
    page = phone_page

    sign_in(page, live_server, staff, path="/staff/")
    page.wait_for_url(f"{live_server.url}/staff/")

    page.click("a[href='/staff/unbind-requests/']")
    row = page.locator("#unbind-requests tbody tr", has_text=app.name)
    assert row.locator(".countdown").is_visible()  # working days left
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    save_screenshot(page, "unbind-console-phone")
    row.locator("a").click()

    page.check("input[name=result][value=refused]")
    page.click("form button[type=submit]:not(.link)")  # no reason: refused, what was chosen is kept
    assert page.locator(".errorlist").is_visible()
    assert page.locator("input[name=result][value=refused]").is_checked()
    page.fill("textarea[name=reason]", "该账号绑定了未结清的贷款，需原机主到营业厅办理")
    page.click("form button[type=submit]:not(.link)")
    page.wait_for_url(f"{live_server.url}/staff/unbind-requests/")
    request.refresh_from_db()
    assert request.state == UnbindRequest.State.REFUSED and request.answered_by == staff
    assert "贷款" in request.refusal_reason
