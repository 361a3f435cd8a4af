"""The counter console: carrier staff only, their own carrier's numbers and renewals only."""

import pytest
from django.urls import reverse

from portal.carrier.models import CarrierAction
from portal.unbinding.models import UnbindRequest
from registry.models import Organisation, StaffUser
from tests.portal.lookup.helpers import simulated_apps
from tests.registry.factories import OrganisationFactory, StaffUserFactory, platform_staff

pytestmark = pytest.mark.django_db


def carrier_staff(segments: str = "139") -> StaffUser:
    carrier = OrganisationFactory(kind=Organisation.Kind.BASIC_CARRIER, number_segments=segments)
    return StaffUserFactory(role=StaffUser.Role.CARRIER_STAFF, organisation=carrier)


def _history(client, number="13900008801", reference="desk-3"):
    return client.post(reverse("carrier_counter"), {"phone_number": number, "reference": reference, "verified": "on"})


def test_carrier_staff_read_a_history_and_start_a_renewal(client, simulator):
    (app,) = simulated_apps(simulator, ["app05"], supports_unbind=True)
    staff = carrier_staff()
    client.force_login(staff)
    assert client.get(reverse("carrier_counter")).status_code == 200
    page = _history(client)
    html = page.content.decode()
    assert (
        page.status_code == 200 and 'id="history-text"' in html and "139****8801" in html and "13900008801" not in html
    )
    history = CarrierAction.objects.get(kind="history")
    assert (history.channel, history.reference, history.via, history.staff_user) == (
        "counter",
        "desk-3",
        "console",
        staff,
    )
    # no reported re-assignment: the console says it needs holder_since
    refused = client.post(reverse("carrier_renewal_start"), {"history": history.public_id})
    assert refused.status_code == 400 and not UnbindRequest.objects.exists()
    started = client.post(
        reverse("carrier_renewal_start"), {"history": history.public_id, "holder_since": "2026-11-20"}
    )
    renewal = CarrierAction.objects.get(kind="renewal")
    assert started.status_code == 302 and started["Location"] == reverse("carrier_renewal", args=[renewal.public_id])
    assert UnbindRequest.objects.get().app == app and renewal.staff_user == staff
    assert renewal.holder_since.isoformat() == "2026-11-20"
    page = client.get(started["Location"]).content.decode()
    assert app.name in page and 'data-state="running"' in page
    assert client.get(reverse("carrier_renewal_progress", args=[renewal.public_id])).json()["progress"]["total"] == 1


def test_the_console_refuses_another_carriers_number_and_renewals(client):
    staff, other = carrier_staff("139"), carrier_staff("138")
    client.force_login(staff)
    page = _history(client, number="13800008801")
    assert page.status_code == 400 and not CarrierAction.objects.exists()
    client.force_login(other)
    _history(client, number="13800008801")
    theirs = CarrierAction.objects.get()
    client.force_login(staff)
    assert client.post(reverse("carrier_renewal_start"), {"history": theirs.public_id}).status_code == 404


def test_only_carrier_staff_open_the_console(client):
    client.force_login(platform_staff())
    assert client.get(reverse("carrier_counter")).status_code == 404
    client.force_login(StaffUserFactory(role=StaffUser.Role.REGULATOR))
    assert client.get(reverse("carrier_counter")).status_code == 404
    client.logout()
    assert client.get(reverse("carrier_counter")).status_code == 302  # to sign in


def test_the_counter_needs_the_staff_members_word_that_they_checked_the_id(client):
    client.force_login(carrier_staff())
    page = client.post(reverse("carrier_counter"), {"phone_number": "13900008801", "reference": "desk-3"})
    assert page.status_code == 400 and not CarrierAction.objects.exists()
    bad = client.post(
        reverse("carrier_counter"), {"phone_number": "13900008801", "reference": "王 敏", "verified": "on"}
    )
    assert bad.status_code == 400
