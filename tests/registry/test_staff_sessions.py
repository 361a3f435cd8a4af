"""Staff sign-in rules (registry/middleware.py): the second factor before anything staff-only, by who the
user is; staff sessions end after 30 minutes idle and 12 hours at most; expired sessions are purged; a
citizen's lookup token ends with the lookup's retention."""

import time
from datetime import timedelta

import pyotp
import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.conf import settings
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from complaints.models import Complaint
from portal.core.privacy import token_hash
from portal.lookup.models import Lookup
from registry.middleware import LOGIN_AT_SESSION_KEY, SEEN_AT_SESSION_KEY
from registry.models import StaffUser
from tests.complaints.helpers import complaint_data, png_file, prove_number
from tests.registry.factories import MemberAppFactory, StaffUserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"


def confirm_password_for_totp_setup(client):
    """allauth asks for the password again before TOTP is set up (MFA_REAUTHENTICATION_REQUIRED)."""
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 302 and response.url.startswith(reverse("account_reauthenticate"))
    assert client.post(reverse("account_reauthenticate"), {"password": PASSWORD}).status_code == 302


def sign_in_with_password_only(client, user):
    """allauth's sign-in page with the password; a user without TOTP is then signed in, with no second factor."""
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return response


@pytest.fixture
def evidence(client):
    """A complaint with a screenshot, filed by a holder (in another browser)."""
    holder = client.__class__()
    prove_number(holder)
    holder.post("/complaints/new/details/", complaint_data(MemberAppFactory(), evidence=[png_file()]))
    return Complaint.objects.get().evidence.get()


# --- The second factor --------------------------------------------------------------------------------


def test_attack_evidence_file_without_second_factor_is_refused(client, evidence):
    path = reverse("complaints:evidence", args=[evidence.pk])
    with_totp = client.__class__()
    with_totp.force_login(StaffUserFactory(role=StaffUser.Role.ADMINISTRATOR))  # signed in with the code
    assert with_totp.get(path).status_code == 200

    sign_in_with_password_only(client, StaffUserFactory(role=StaffUser.Role.ADMINISTRATOR, totp_secret=False))
    response = client.get(path)
    assert response.status_code == 302 and response.url.startswith(reverse("mfa_activate_totp"))
    assert not hasattr(response, "streaming_content")


def test_attack_staff_api_without_second_factor_is_refused(client):
    sign_in_with_password_only(client, StaffUserFactory(role=StaffUser.Role.ADMINISTRATOR, totp_secret=False))
    for path in ("/api/v1/staff/apps/", "/api/v1/stats/headline"):
        response = client.get(path)
        assert response.status_code == 403 and "TOTP" in response.json()["detail"], path


def test_attack_any_page_without_second_factor_is_refused_but_totp_setup_and_sign_out_open(client):
    sign_in_with_password_only(client, StaffUserFactory(totp_secret=False))
    for path in ("/staff/", "/admin/", "/staff/complaints/export.csv", "/staff/sms-outbox/", "/", "/lookup/"):
        response = client.get(path)
        assert response.status_code == 302 and response.url.startswith(reverse("mfa_activate_totp")), path
    confirm_password_for_totp_setup(client)
    assert client.get(reverse("mfa_activate_totp")).status_code == 200
    assert client.get(reverse("account_logout")).status_code == 200
    assert client.post(reverse("account_logout")).status_code == 302
    assert client.get("/").status_code == 200  # signed out: a visitor like any other


@pytest.mark.django_db(
    transaction=True
)  # allauth announces the new TOTP once its transaction commits, as in production
def test_setting_up_totp_opens_the_console_in_the_same_session(client):
    user = StaffUserFactory(totp_secret=False)
    sign_in_with_password_only(client, user)
    confirm_password_for_totp_setup(client)
    page = client.get(reverse("mfa_activate_totp"))
    secret = page.context["form"].secret
    response = client.post(reverse("mfa_activate_totp"), {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302
    assert client.get(reverse("staff_home")).status_code == 200


def test_attack_session_that_never_entered_the_totp_code_is_refused_until_it_does(client):
    """TOTP set up elsewhere (another browser, an administrator's reset) does not vouch for this session."""
    user = StaffUserFactory(totp_secret=False)
    sign_in_with_password_only(client, user)
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    response = client.get(reverse("staff_home"))
    assert response.status_code == 302 and response.url.startswith(reverse("mfa_reauthenticate"))
    assert client.get("/api/v1/staff/apps/").status_code == 403

    client.post(reverse("mfa_reauthenticate"), {"code": pyotp.TOTP(secret).now()})
    assert client.get(reverse("staff_home")).status_code == 200


# --- Session limits -------------------------------------------------------------------------------------


def set_session(client, **values):
    session = client.session
    session.update(values)
    session.save()


def test_attack_staff_session_idle_for_30_minutes_is_ended(client):
    client.force_login(StaffUserFactory())
    assert client.get(reverse("staff_home")).status_code == 200
    set_session(client, **{SEEN_AT_SESSION_KEY: time.time() - settings.STAFF_SESSION_IDLE_SECONDS + 120})
    assert client.get(reverse("staff_home")).status_code == 200  # 28 minutes: still there

    set_session(client, **{SEEN_AT_SESSION_KEY: time.time() - settings.STAFF_SESSION_IDLE_SECONDS - 1})
    response = client.get(reverse("staff_home"))
    assert response.status_code == 302 and response.url.startswith(reverse("account_login"))
    assert client.get(reverse("staff_home")).url.startswith(reverse("account_login"))  # signed out for good
    assert client.get("/api/v1/staff/apps/").status_code == 403  # now a visitor: DRF's "not signed in"


def test_attack_staff_session_older_than_12_hours_is_ended_even_when_busy(client):
    client.force_login(StaffUserFactory())
    set_session(client, **{LOGIN_AT_SESSION_KEY: time.time() - 12 * 3600 - 1, SEEN_AT_SESSION_KEY: time.time() - 5})
    response = client.get("/api/v1/staff/apps/")
    assert response.status_code == 401 and "12" in response.json()["detail"]
    assert client.get(reverse("staff_home")).url.startswith(reverse("account_login"))


def test_the_session_store_forgets_a_staff_session_30_minutes_after_its_last_request(client):
    client.force_login(StaffUserFactory())
    set_session(client, **{SEEN_AT_SESSION_KEY: time.time() - 300})  # five minutes ago: the next request refreshes
    client.get(reverse("staff_home"))
    expires = Session.objects.get(pk=client.session.session_key).expire_date
    assert timedelta(minutes=29) < expires - timezone.now() <= timedelta(minutes=30)

    # eleven and three quarter hours in: the store keeps it only until the twelfth hour
    set_session(client, **{LOGIN_AT_SESSION_KEY: time.time() - 11.75 * 3600, SEEN_AT_SESSION_KEY: time.time() - 300})
    client.get(reverse("staff_home"))
    expires = Session.objects.get(pk=client.session.session_key).expire_date
    assert timedelta(minutes=14) < expires - timezone.now() <= timedelta(minutes=15)


def test_a_citizens_session_keeps_djangos_lifetime(client):
    prove_number(client)
    expires = Session.objects.get(pk=client.session.session_key).expire_date
    assert expires - timezone.now() > timedelta(seconds=settings.SESSION_COOKIE_AGE - 60)


def test_expired_sessions_are_purged_on_beats_schedule(client):
    from portal.celery import app
    from portal.verification.tasks import sessions_purge

    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "portal.tasks.sessions_purge")
    assert entry["schedule"] <= 3600 and "portal.tasks.sessions_purge" in app.tasks

    client.force_login(StaffUserFactory())
    live = client.session.session_key
    Session.objects.create(session_key="x" * 32, session_data="", expire_date=timezone.now() - timedelta(seconds=1))
    sessions_purge()
    assert list(Session.objects.values_list("session_key", flat=True)) == [live]


# --- The citizen's lookup token ------------------------------------------------------------------------------


def test_attack_lookup_token_past_the_lookups_retention_opens_nothing(client):
    token = "a-citizens-lookup-token"
    lookup = Lookup.objects.create(phone_hash="h", phone_number="13900001234", access_token_hash=token_hash(token))
    path = reverse("api_lookup", args=[lookup.pk])
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert client.get(path, **bearer).status_code == 200

    Lookup.objects.filter(pk=lookup.pk).update(
        created_at=timezone.now() - timedelta(days=settings.LOOKUP_RETENTION_DAYS, seconds=1)
    )
    assert client.get(path, **bearer).status_code == 404  # before the hourly purge has run
    unbind = client.post(
        reverse("api_lookup_unbind", args=[lookup.pk]), {"all": True}, content_type="application/json", **bearer
    )
    assert unbind.status_code == 404
