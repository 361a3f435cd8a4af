"""Unbinding (一键解绑): from a lookup's results to the platform's answer, through the real worker and
the real platform simulator; the pull queue; the deadline; the platform staff console and its scoping."""

import json
from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.core.refusals import Refusal
from portal.devtools.demo import demo_key_secret
from portal.lookup.services import lookup_purge
from portal.sms.models import SmsMessage
from portal.unbinding import services
from portal.unbinding.models import UnbindRequest
from registry import protocol
from tests.portal.lookup.helpers import latest_code, simulated_apps, wait_for
from tests.portal.unbinding.helpers import (
    completed_lookup,
    number_with_previous_accounts,
)
from tests.registry.factories import (
    OrganisationFactory,
    StaffUserFactory,
    platform_staff,
)
from tests.signing import signed_request

pytestmark = pytest.mark.django_db(transaction=True)


def signed_post(client, url, payload, slug, seconds_ago=0):
    return signed_request(
        client, "post", url, payload, key_id=f"demo_{slug}", secret=demo_key_secret(slug), seconds_ago=seconds_ago
    )


def signed_get(client, url, slug):
    return signed_request(client, "get", url, key_id=f"demo_{slug}", secret=demo_key_secret(slug))


def _results_page(client, lookup):
    session = client.session
    session["lookups"] = [str(lookup.pk)]
    session.save()
    return client.get(reverse("lookup_results", args=[lookup.pk]))


@pytest.mark.worker
def test_one_app_then_all_at_once_from_the_results_page(client, celery_workers, simulator):
    """app01 unbinds at once, app06 refuses with a reason, app07 accepts for later and answers
    through the platform API."""
    organisation = OrganisationFactory()
    apps = {
        a.name[-5:]: a
        for a in simulated_apps(simulator, ["app01", "app06", "app07"], supports_unbind=True, organisation=organisation)
    }
    celery_workers.start("unbind", "--concurrency", "2")
    celery_workers.wait_until_ready(1)
    lookup, _token = completed_lookup(number_with_previous_accounts(["app01", "app06", "app07"]))
    page = _results_page(client, lookup)
    assert page.status_code == 200 and 'id="unbind-all"' in page.content.decode()

    # one app
    response = client.post(reverse("lookup_unbind", args=[lookup.pk]), {"app": apps["app01"].pk})
    assert response.status_code == 302
    done = wait_for(lambda: UnbindRequest.objects.filter(app=apps["app01"], state="done").first(), what="app01 done")
    assert done.delivery == "push" and done.answered_via == "protocol" and done.attempts == 1
    assert done.accounts_count >= 1 and done.answered_on_time
    assert UnbindRequest.objects.count() == 1  # only the app asked for
    assert wait_for(lambda: SmsMessage.objects.filter(purpose="unbind").exists(), what="the holder's SMS")

    # all at once: the remaining two; app01 is not asked twice
    client.post(reverse("lookup_unbind", args=[lookup.pk]), {"all": "1"})
    refused = wait_for(
        lambda: UnbindRequest.objects.filter(app=apps["app06"], state="refused").first(), what="app06 refused"
    )
    assert "余额" in refused.refusal_reason
    later = wait_for(
        lambda: UnbindRequest.objects.filter(app=apps["app07"], state="sent").first(), what="app07 accepted"
    )
    assert later.sent_at and later.answered_at is None
    assert UnbindRequest.objects.count() == 3

    page = _results_page(client, lookup).content.decode()
    assert "余额" in page  # the refusal's reason, for the holder
    assert reverse("complaints:file") + "?unbind=" + str(refused.public_id) in page  # a refusal may be complained about
    assert 'id="unbind-all"' not in page  # nothing left to send

    # app07's platform answers later, signed, through the platform API
    url = reverse("api_platform_unbind_answer", args=[later.public_id])
    assert signed_post(client, url, {"result": "done"}, "app07").status_code == 200
    again = signed_post(client, url, {"result": "done"}, "app07", seconds_ago=30)  # signed anew: not a replay
    assert again.status_code == 200  # the same answer again changes nothing
    assert signed_post(client, url, {"result": "refused", "reason": "x"}, "app07").status_code == 409
    later.refresh_from_db()
    assert later.state == "done" and later.answered_via == "api"
    from portal.unbinding.selectors import unbind_statistics

    assert unbind_statistics() == {"requests": 3, "done": 2, "done_on_time": 2, "refused": 1, "overdue": 0}


def test_the_citizen_api_sends_and_shows_unbinding(client, simulator):
    apps = simulated_apps(simulator, ["app05"])  # no /v2/unbind capability: the pull queue
    token = "citizen-token"
    lookup = _lookup_with_accounts(apps[0], token=token)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    detail = client.get(reverse("api_lookup", args=[lookup.pk]), **auth).json()
    assert detail["unbindable_apps"] == 1 and detail["apps"][0]["unbindable"] and detail["apps"][0]["unbind"] is None

    url = reverse("api_lookup_unbind", args=[lookup.pk])
    assert client.post(url, {}, content_type="application/json").status_code == 404  # no token
    response = client.post(url, {"all": True}, content_type="application/json", **auth)
    assert response.status_code == 201
    (made,) = response.json()["unbind_requests"]
    assert made["app"] == apps[0].name and made["state"] == "queued" and made["working_days_left"] == 5
    again = client.post(url, {"app_ids": [apps[0].pk]}, content_type="application/json", **auth)
    assert again.status_code == 201 and again.json()["unbind_requests"][0]["id"] == made["id"]  # once per app
    refused = client.post(url, {"app_ids": [999999]}, content_type="application/json", **auth)
    assert refused.status_code == 400 and refused.json()["code"] == "nothing_to_unbind"
    detail = client.get(reverse("api_lookup", args=[lookup.pk]), **auth).json()
    assert detail["apps"][0]["unbind"]["id"] == made["id"] and not detail["apps"][0]["unbindable"]


def test_pull_queue_fetch_and_answer(client, simulator):
    """A platform without /v2/unbind fetches its requests and answers them; another member sees none."""
    organisation = OrganisationFactory()
    (app,) = simulated_apps(simulator, ["app05"], organisation=organisation)
    (other,) = simulated_apps(simulator, ["app01"])  # another organisation, with its own key
    lookup = _lookup_with_accounts(app)
    (request,) = services.unbind_request_create(lookup=lookup)
    assert request.delivery == "pull" and request.state == "queued"

    url = reverse("api_platform_unbind_requests") + "?state=open"
    page = signed_get(client, url, "app05").json()["unbind_requests"]
    assert [r["request_id"] for r in page] == [str(request.public_id)] and page[0]["state"] == "sent"
    assert page[0]["phone_number"] == "+86" + lookup.phone_number and page[0]["accounts"][0]["account_ref"]
    request.refresh_from_db()
    assert request.state == "sent" and request.sent_at  # fetched: it is with the platform now
    assert signed_get(client, url, "app01").json()["unbind_requests"] == []  # scoped to the member
    assert signed_get(client, reverse("api_platform_unbind_requests") + "?state=nonsense", "app05").status_code == 400
    assert client.get(url).status_code in (401, 403)  # unsigned

    answer = reverse("api_platform_unbind_answer", args=[request.public_id])
    assert signed_post(client, answer, {"result": "refused"}, "app05").status_code == 400  # a refusal needs a reason
    assert signed_post(client, answer, {"result": "done"}, "app01").status_code == 404  # not its request
    response = signed_post(client, answer, {"result": "refused", "reason": "该账号已实名认证为本人，无法解绑"}, "app05")
    assert response.status_code == 200 and response.json()["state"] == "refused"
    request.refresh_from_db()
    assert request.state == "refused" and request.answered_via == "api" and request.answered_at
    assert other.unbind_requests.count() == 0


def _lookup_with_accounts(app, phone="13900000001", token="token"):
    """A completed lookup in which `app` found one account likely the previous holder's."""
    from portal.core.privacy import keyed_hash, token_hash
    from portal.lookup.models import Lookup, LookupQuery

    now = timezone.now()
    lookup = Lookup.objects.create(
        phone_hash=keyed_hash("phone", phone),
        phone_number=phone,
        access_token_hash=token_hash(token),
        state="completed",
        completed_at=now,
        apps_total=1,
    )
    LookupQuery.objects.create(
        lookup=lookup,
        app=app,
        state="answered",
        deadline_at=now,
        accounts_total=1,
        accounts_previous=1,
        accounts=[{"account_ref": f"acct-{app.pk}", "registered_on": "2018-03-01", "likely_previous": True}],
    )
    return lookup


def test_past_the_deadline_the_holder_is_offered_a_complaint(client, simulator, monkeypatch):
    (app,) = simulated_apps(simulator, ["app05"])
    lookup = _lookup_with_accounts(app)
    (request,) = services.unbind_request_create(lookup=lookup)
    assert timezone.localtime(request.deadline_at).weekday() < 5

    # Before the deadline: the holder proves the number with an SMS code and sees the request, no complaint
    page = client.post(
        reverse("unbind_track"), {"phone_number": lookup.phone_number, "captcha_0": "x", "captcha_1": "passed"}
    )
    assert page.status_code == 200 and "139****0001" in page.content.decode()
    page = client.post(
        reverse("unbind_verify"), {"phone_number": lookup.phone_number, "code": latest_code()}, follow=True
    )
    html = page.content.decode()
    assert app.name in html and "complaints/new/" not in html
    assert timezone.localtime(request.deadline_at).strftime("%Y-%m-%d %H:%M") in html

    # A week and a day later, still no answer. The holder comes back (the code proved the number for
    # an hour, so a new one is needed) and is offered a complaint about this request.
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(days=8))
    assert app.name not in client.get(reverse("unbind_track")).content.decode()
    client.post(reverse("unbind_track"), {"phone_number": lookup.phone_number, "captcha_0": "x", "captcha_1": "passed"})
    page = client.post(
        reverse("unbind_verify"), {"phone_number": lookup.phone_number, "code": latest_code()}, follow=True
    )
    html = page.content.decode()
    link = reverse("complaints:file") + "?unbind=" + str(request.public_id)
    assert link in html
    assert client.get(link).status_code == 200


def test_a_wrong_code_keeps_the_number_and_says_why(client):
    client.post(reverse("unbind_track"), {"phone_number": "13900000009", "captcha_0": "x", "captcha_1": "passed"})
    wrong = "000000" if latest_code() != "000000" else "111111"
    page = client.post(reverse("unbind_verify"), {"phone_number": "13900000009", "code": wrong})
    assert page.status_code == 400 and "139****0009" in page.content.decode()
    bad = client.post(reverse("unbind_track"), {"phone_number": "12345", "captcha_0": "x", "captcha_1": "passed"})
    assert bad.status_code == 400 and 'value="12345"' in bad.content.decode()


def test_platform_staff_see_and_answer_only_their_own_requests(client, simulator):
    org_a, org_b = OrganisationFactory(), OrganisationFactory()
    (app_a,) = simulated_apps(simulator, ["app05"], organisation=org_a)
    (app_b,) = simulated_apps(simulator, ["app01"], organisation=org_b)
    (request_a,) = services.unbind_request_create(lookup=_lookup_with_accounts(app_a, phone="13900000011"))
    (request_b,) = services.unbind_request_create(lookup=_lookup_with_accounts(app_b, phone="13900000012"))
    staff_a, staff_b = platform_staff(org_a), platform_staff(org_b)

    client.force_login(staff_b)
    listing = client.get(reverse("staff_unbind_requests")).content.decode()
    assert app_b.name in listing and app_a.name not in listing
    assert "5 working days left" in listing or "5" in listing
    assert client.get(reverse("staff_unbind_request", args=[request_a.public_id])).status_code == 404
    assert (
        client.post(reverse("staff_unbind_request", args=[request_a.public_id]), {"result": "done"}).status_code == 404
    )
    request_a.refresh_from_db()
    assert request_a.state == "queued"

    client.force_login(staff_a)
    detail = client.get(reverse("staff_unbind_request", args=[request_a.public_id]))
    assert (
        detail.status_code == 200
        and f"acct-{app_a.pk}" in detail.content.decode()
        and "139****0011" in detail.content.decode()
    )
    missing_reason = client.post(
        reverse("staff_unbind_request", args=[request_a.public_id]), {"result": "refused", "reason": " "}
    )
    assert missing_reason.status_code == 400
    client.post(reverse("staff_unbind_request", args=[request_a.public_id]), {"result": "done"})
    request_a.refresh_from_db()
    assert request_a.state == "done" and request_a.answered_by == staff_a and request_a.answered_via == "console"
    assert app_a.name in client.get(reverse("staff_unbind_requests") + "?state=done").content.decode()
    assert app_a.name not in client.get(reverse("staff_unbind_requests")).content.decode()  # open only

    client.force_login(StaffUserFactory())  # an administrator sees every member's, but answers for none
    listing = client.get(reverse("staff_unbind_requests") + "?state=all").content.decode()
    assert app_a.name in listing and app_b.name in listing
    assert client.get(reverse("staff_unbind_request", args=[request_b.public_id])).status_code == 200
    client.post(reverse("staff_unbind_request", args=[request_b.public_id]), {"result": "done"})
    request_b.refresh_from_db()
    assert request_b.state == "queued"


def test_overdue_filter_and_countdown(client, simulator, monkeypatch):
    org = OrganisationFactory()
    (app,) = simulated_apps(simulator, ["app05"], organisation=org)
    services.unbind_request_create(lookup=_lookup_with_accounts(app))
    staff = platform_staff(org)
    client.force_login(staff)
    assert app.name not in client.get(reverse("staff_unbind_requests") + "?state=overdue").content.decode()
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(days=10))
    client.force_login(staff)  # ten days on, yesterday's staff session has long ended
    html = client.get(reverse("staff_unbind_requests") + "?state=overdue").content.decode()
    assert app.name in html and "countdown overdue" in html


def test_a_platform_that_is_down_keeps_the_request_queued_with_the_error(simulator, settings):
    (app,) = simulated_apps(simulator, ["app05"], supports_unbind=True)
    type(app.integration).objects.filter(pk=app.integration.pk).update(base_url="http://127.0.0.1:9/app05")
    (request,) = services.unbind_request_create(lookup=_lookup_with_accounts(app))
    assert request.delivery == "push"
    with pytest.raises(services.UnbindRetry):
        services.unbind_deliver(request_id=request.pk)
    request.refresh_from_db()
    assert request.state == "queued" and request.attempts == 1 and "connect" in request.last_error.lower()
    app.integration.refresh_from_db()
    assert app.integration.consecutive_failures == 1  # the member's health, as staff and the circuit breaker see it
    assert services.unbind_deliver(request_id=request.pk) == "skipped"  # not due yet: a duplicate message is a no-op
    UnbindRequest.objects.filter(pk=request.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=1))
    assert services.unbind_sweep() == 1  # what beat runs: the overdue attempt is nudged again
    settings.UNBIND_MAX_ATTEMPTS = 2
    UnbindRequest.objects.filter(pk=request.pk).update(next_attempt_at=timezone.now())
    assert services.unbind_deliver(request_id=request.pk) == "failed"  # out of attempts: left for the console
    request.refresh_from_db()
    assert request.state == "queued" and request.next_attempt_at is None and request.attempts == 2


def test_working_days_skip_weekends_and_holidays(settings):
    from portal.core.workdays import add_working_days, working_days_between

    settings.PUBLIC_HOLIDAYS = ["2026-10-01", "2026-10-02"]
    settings.EXTRA_WORKING_DAYS = ["2026-10-10"]
    tz = timezone.get_current_timezone()
    friday = datetime(2026, 11, 20, 15, 30, tzinfo=tz)
    assert add_working_days(friday, 5) == datetime(2026, 11, 27, 15, 30, tzinfo=tz)  # next Friday
    saturday = datetime(2026, 11, 21, 9, 0, tzinfo=tz)
    assert add_working_days(saturday, 5).date().isoformat() == "2026-11-27"
    wednesday = datetime(2026, 9, 30, 10, 0, tzinfo=tz)  # Thu 1st and Fri 2nd are holidays
    assert add_working_days(wednesday, 5).date().isoformat() == "2026-10-09"
    thursday = datetime(2026, 10, 8, 10, 0, tzinfo=tz)  # Saturday the 10th is worked (调休)
    assert add_working_days(thursday, 2).date().isoformat() == "2026-10-10"
    assert working_days_between(friday, datetime(2026, 11, 27, 9, 0, tzinfo=tz)) == 5
    assert working_days_between(datetime(2026, 11, 27, 9, 0, tzinfo=tz), friday) == -5


@pytest.mark.parametrize(
    "status, body, expected",
    [
        (200, b'{"state":"done"}', ("done", "")),
        (200, '{"state":"refused","reason":"账户有余额"}'.encode(), ("refused", "账户有余额")),
        (202, b"", ("accepted", "")),
        (202, b'{"state":"accepted"}', ("accepted", "")),
    ],
)
def test_unbind_answers_parse(status, body, expected):
    answer = protocol.parse_unbind_answer(status, body)
    assert (answer.state, answer.reason) == expected


@pytest.mark.parametrize(
    "status, body",
    [
        (200, b'{"state":"refused"}'),  # no reason
        (200, b'{"state":"accepted"}'),  # accepted needs 202
        (200, b'{"state":"done","extra":1}'),
        (200, b"not json"),
        (202, b'{"state":"done"}'),
        (500, b""),
    ],
)
def test_unbind_answers_that_break_the_protocol(status, body):
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_unbind_answer(status, body)


def test_unbind_request_body_is_what_the_docs_say():
    payload = protocol.unbind_request(
        request_id="r1",
        phone_e164="+8613900000001",
        holder_since=None,
        accounts=[{"account_ref": "a", "registered_on": "2019-01-01", "likely_previous": True}],
    )
    assert json.loads(protocol.encode(payload)) == {
        "request_id": "r1",
        "phone_number": "+8613900000001",
        "holder_since": None,
        "accounts": [{"account_ref": "a", "registered_on": "2019-01-01"}],
    }


@pytest.mark.worker
def test_a_platform_that_accepts_for_later_answers_through_the_api(live_server, celery_workers):
    """The demo's path: the simulated app answers 202, then posts its signed answer to the portal."""
    from tests.conftest import running_simulator

    with running_simulator("--apps", "5", "--unbind-later", "app05=0.5", "--portal-url", live_server.url) as url:
        (app,) = simulated_apps(url, ["app05"], supports_unbind=True)
        celery_workers.start("later", "--concurrency", "1")
        celery_workers.wait_until_ready(1)
        (request,) = services.unbind_request_create(lookup=_lookup_with_accounts(app))
        done = wait_for(
            lambda: UnbindRequest.objects.filter(pk=request.pk, state="done").first(), what="the later answer"
        )
        assert done.answered_via == "api" and done.sent_at <= done.answered_at


def test_account_references_are_purged_with_the_lookup(simulator, settings):
    (app,) = simulated_apps(simulator, ["app05"])
    lookup = _lookup_with_accounts(app)
    (request,) = services.unbind_request_create(lookup=lookup)
    type(lookup).objects.filter(pk=lookup.pk).update(
        created_at=timezone.now() - timedelta(days=settings.LOOKUP_RETENTION_DAYS + 1)
    )
    lookup_purge()
    request.refresh_from_db()
    assert request.accounts == [] and request.accounts_count == 1  # the count stays for statistics
    with pytest.raises(Refusal):
        services.unbind_request_create(lookup=type(lookup).objects.get(pk=lookup.pk))
