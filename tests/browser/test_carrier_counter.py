"""Carrier staff at the counter, on a phone-width screen (390 px): sign in with TOTP, read a number's
history, start its renewal for the subscriber in front of them, and watch it finish against the
simulator (app01 unbinds at once, app06 refuses with a reason)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.carrier.models import CarrierAction
from portal.recycling.models import NumberEvent
from registry.models import Organisation, StaffUser
from tests.browser.conftest import phone_width_page, save_screenshot, sign_in
from tests.portal.lookup.helpers import simulated_apps
from tests.registry.factories import OrganisationFactory, StaffUserFactory

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

NUMBER = "13900008801"


@pytest.fixture
def counter_page(browser):
    with phone_width_page(browser, 390, 844) as page:
        yield page


def test_carrier_staff_renew_a_number_at_the_counter(live_server, counter_page, celery_workers, simulator):
    carrier = OrganisationFactory(kind=Organisation.Kind.BASIC_CARRIER, number_segments="139")
    staff = StaffUserFactory(role=StaffUser.Role.CARRIER_STAFF, organisation=carrier, email="desk@carrier.example.cn")
    apps = simulated_apps(simulator, ["app01", "app06"], timeout_ms=2000, supports_unbind=True)
    NumberEvent.objects.create(
        carrier=carrier,
        event_id="C1",
        phone_number=NUMBER,
        type="cancelled",
        occurred_at=timezone.now() - timedelta(days=200),
    )
    NumberEvent.objects.create(
        carrier=carrier,
        event_id="R1",
        phone_number=NUMBER,
        type="reassigned",
        occurred_at=timezone.now() - timedelta(days=30),
    )
    celery_workers.start("counter", "--concurrency", "2")
    celery_workers.wait_until_ready(1)
    page = counter_page

    sign_in(page, live_server, staff, path="/staff/counter/")
    page.wait_for_url(f"{live_server.url}/staff/counter/")
    page.fill("input[name=phone_number]", "139 0000 8801")
    page.fill("input[name=reference]", "desk-7")
    page.check("input[name=verified]")
    page.click("#counter-number button[type=submit]")
    text = page.locator("#history-text")
    assert "二次号" in text.inner_text()
    assert "139****8801" in page.content() and NUMBER not in page.content()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    save_screenshot(page, "carrier-counter-history-390")

    page.click("#start-renewal")
    page.wait_for_url("**/staff/counter/renewals/*/")
    page.wait_for_selector("#renewal[data-state=completed]", timeout=90000)  # the page follows the apps' answers
    assert page.locator("#renewal-apps tr.unbind-done").count() == 1
    refused = page.locator("#renewal-apps tr.unbind-refused")
    assert refused.count() == 1 and "余额" in refused.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    save_screenshot(page, "carrier-counter-renewal-390")
    renewal = CarrierAction.objects.get(kind="renewal")
    assert (renewal.apps_done, renewal.apps_refused, renewal.staff_user, renewal.reference) == (1, 1, staff, "desk-7")
    assert {r.app for r in renewal.lookup.unbind_requests.all()} == set(apps)
