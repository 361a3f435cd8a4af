"""Issue 14 §2: notices retry on the published schedule, an endpoint failing for 5 days is disabled and
its staff e-mailed, and staff replay any notice of the last 7 days from the console and the API.

A member platform on loopback (tests/member_server.py) takes the notices and checks them with the
`standardwebhooks` library; time passes by moving the rows' timestamps, never by sleeping. The sending
runs in this process as a worker runs it; the last tests use a real worker and the simulator."""

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from portal.core import backoff
from portal.notices import delivery as notices
from portal.notices import outcomes
from portal.notices import replay as delivery_services
from portal.notices import services as portal_services
from portal.notices.models import NoticeAttempt, NoticeDelivery, NoticeSubscription
from portal.recycling.models import NumberEvent
from registry import protocol
from tests.member_server import MemberServer
from tests.portal.lookup.helpers import wait_for
from tests.portal.notices.helpers import (
    carrier_key,
    control,
    events,
    inbox,
    member_app,
    report_events,
    signed_post,
    subscribe,
)
from tests.portal.outbound.test_outbound import no_stray_tasks  # noqa: F401
from tests.registry.factories import MemberAppFactory, OrganisationFactory, StaffUserFactory, platform_staff
from tests.signing import signed_headers

PUBLISHED = (5, 300, 1800, 7200, 18000, 36000, 36000)


class Webhooks(MemberServer):
    """Notice webhooks that verify with the standardwebhooks library and answer `status[app]` (200)."""

    def __init__(self):
        super().__init__()
        self.status: dict[str, int] = {}

    def answer(self, name, request):
        Webhook(self.secrets[name]).verify(request["body"], request["headers"])  # raises: a 500, a failed test
        return self.status.get(name, 200), {}, None


@pytest.fixture
def webhooks():
    server = Webhooks()
    yield server
    server.stop()


def subscribed(webhooks, name="hooks", organisation=None):
    app = MemberAppFactory(name=name, supports_lookup=False, **({"organisation": organisation} if organisation else {}))
    subscription, secret = portal_services.notice_subscription_save(
        app=app, webhook_url=f"{webhooks.url}/{name}{protocol.NUMBER_NOTICES_PATH}", event_types=["reassigned"]
    )
    webhooks.secrets[name] = secret
    return subscription


def a_notice(subscription, **fields):
    values = {
        "after_event_id": 0,
        "up_to_event_id": 0,
        "event_types": "reassigned",
        "numbers": 1,
        "max_attempts": backoff.notices().attempts,
    } | fields
    return NoticeDelivery.objects.create(subscription=subscription, **values)


def make_due(delivery):
    NoticeDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


# --- the schedule ------------------------------------------------------------------------------------------


def test_the_notice_schedule_is_the_published_one_over_about_a_day():
    schedule = backoff.NOTICES
    assert schedule.delays == PUBLISHED and schedule.attempts == 8
    assert 20 * 3600 < schedule.total_seconds() < 30 * 3600  # "about a day"
    for attempts, published in enumerate(PUBLISHED, start=1):
        delay = schedule.delay(attempts)
        assert published <= delay <= published * 1.1  # jitter adds, never shortens
    assert schedule.delay(8) is None and schedule.next_attempt_at(8) is None


@pytest.mark.django_db(transaction=True)
def test_failed_attempts_follow_the_schedule_then_the_notice_is_parked(webhooks, no_stray_tasks):  # noqa: F811
    subscription = subscribed(webhooks)
    webhooks.status["hooks"] = 503
    delivery = a_notice(subscription)
    for attempt, published in enumerate(PUBLISHED, start=1):
        before = timezone.now()
        notices.run([str(delivery.pk)])
        delivery.refresh_from_db()
        assert (delivery.state, delivery.attempts) == ("pending", attempt)
        wait = (delivery.next_attempt_at - before).total_seconds()
        assert published - 1 <= wait <= published * 1.1 + 1, (attempt, wait)
        make_due(delivery)  # time passes
    notices.run([str(delivery.pk)])
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("parked", 8, "HTTP 503")
    assert len(webhooks.received(protocol.NUMBER_NOTICES_PATH)) == 8
    assert {r["headers"]["webhook-id"] for r in webhooks.requests} == {str(delivery.pk)}  # the same id on every retry


@pytest.mark.django_db
def test_a_resent_notice_starts_the_schedule_again(webhooks):
    delivery = a_notice(subscribed(webhooks), attempts=8, state="parked", parked_at=timezone.now())
    portal_services.notice_delivery_resend(delivery=delivery)
    delivery.refresh_from_db()
    assert delivery.max_attempts == 16
    assert 5 <= outcomes.retry_delay(9, delivery.max_attempts) <= 5.5  # attempt 1 of its new round
    assert 36000 <= outcomes.retry_delay(15, delivery.max_attempts) <= 39600


@pytest.mark.django_db
def test_the_sweeper_sends_retries_once_due_and_leaves_the_rest_to_their_nudge(webhooks, monkeypatch):
    subscription = subscribed(webhooks)
    now = timezone.now()
    due_retry = a_notice(subscription, attempts=4, next_attempt_at=now - timedelta(seconds=1))
    later_retry = a_notice(subscription, attempts=4, next_attempt_at=now + timedelta(hours=5))
    a_notice(subscription, attempts=4, next_attempt_at=now - timedelta(seconds=60))  # sent by earlier sweeps already
    a_notice(subscription, attempts=0, next_attempt_at=now - timedelta(seconds=1))  # just planned: its nudge is queued
    lost = a_notice(subscription, attempts=0, next_attempt_at=now - timedelta(minutes=10))  # its nudge was lost
    sent = []
    monkeypatch.setattr(notices, "dispatch", lambda groups, countdown=0: sent.extend(pk for g in groups for pk in g))
    notices.sweep()
    assert sorted(sent) == sorted([str(due_retry.pk), str(lost.pk)]) and str(later_retry.pk) not in sent


# --- failing, disabled, e-mailed, enabled again ------------------------------------------------------------


def fail_once(webhooks, subscription, *, status=503):
    webhooks.status[subscription.app.name] = status
    delivery = a_notice(subscription)
    notices.run([str(delivery.pk)])
    subscription.refresh_from_db()
    return delivery


@pytest.mark.django_db(transaction=True)
def test_a_success_ends_the_failing_and_failures_under_five_days_disable_nothing(webhooks, no_stray_tasks):  # noqa: F811
    subscription = subscribed(webhooks)
    fail_once(webhooks, subscription)
    assert subscription.failing_since is not None and subscription.disabled_at is None
    NoticeSubscription.objects.filter(pk=subscription.pk).update(
        failing_since=timezone.now() - timedelta(days=4, hours=23)
    )
    fail_once(webhooks, subscription)
    assert subscription.disabled_at is None
    fail_once(webhooks, subscription, status=200)
    assert subscription.failing_since is None


@pytest.mark.django_db(transaction=True)
def test_an_endpoint_failing_for_five_days_is_disabled_and_its_staff_are_emailed(webhooks, no_stray_tasks):  # noqa: F811
    organisation = OrganisationFactory()
    staff = [platform_staff(organisation), platform_staff(organisation)]
    platform_staff(OrganisationFactory())  # another member's staff hear nothing
    subscription = subscribed(webhooks, organisation=organisation)
    waiting = a_notice(subscription, next_attempt_at=timezone.now() + timedelta(hours=2), attempts=3)
    fail_once(webhooks, subscription)
    NoticeSubscription.objects.filter(pk=subscription.pk).update(
        failing_since=timezone.now() - timedelta(days=5, minutes=1)
    )

    fail_once(webhooks, subscription)
    assert subscription.disabled_at is not None and "every notice failed since" in subscription.disabled_reason
    waiting.refresh_from_db()
    assert waiting.state == "parked"  # nothing more is tried
    assert delivery_services.disabled_mail_send(subscription.pk) == 2
    (message,) = mail.outbox
    assert sorted(message.to) == sorted(s.email for s in staff)
    assert subscription.app.name in message.subject and subscription.webhook_url in message.body
    assert reverse("staff_app_notices", args=[subscription.app.pk]) in message.body
    assert delivery_services.disabled_mail_send(subscription.pk) == 0 and len(mail.outbox) == 1  # told once

    # disabled: not planned, not sent
    key, secret = carrier_key()
    report_events(Client(), key, secret, events(3))
    NumberEvent.objects.update(received_at=timezone.now() - timedelta(minutes=1))  # settled
    NoticeSubscription.objects.filter(pk=subscription.pk).update(notified_up_to=0)
    notices.plan()
    assert not NoticeDelivery.objects.filter(subscription=subscription, state="pending").exists()
    before = len(webhooks.requests)
    NoticeDelivery.objects.filter(pk=waiting.pk).update(state="pending", next_attempt_at=timezone.now())
    notices.run([str(waiting.pk)])
    assert len(webhooks.requests) == before


@pytest.mark.django_db(transaction=True)
def test_a_webhook_answering_410_gone_is_disabled_at_once(webhooks, no_stray_tasks):  # noqa: F811
    subscription = subscribed(webhooks)
    fail_once(webhooks, subscription, status=410)
    assert subscription.disabled_at is not None and "410" in subscription.disabled_reason


@pytest.mark.django_db
def test_the_console_shows_a_disabled_webhook_and_its_staff_enable_it_again(client, webhooks):
    subscription = subscribed(webhooks)
    now = timezone.now()
    NoticeSubscription.objects.filter(pk=subscription.pk).update(
        disabled_at=now, disabled_reason="every notice failed since …", failing_since=now - timedelta(days=5)
    )
    recent = a_notice(subscription, state="parked", attempts=8, created_at=now - timedelta(days=2))
    old = a_notice(subscription, state="parked", attempts=8, created_at=now - timedelta(days=8))
    client.force_login(platform_staff(subscription.app.organisation))
    page = client.get(reverse("staff_app_notices", args=[subscription.app.pk])).content.decode()
    enable = reverse("staff_notice_endpoint_enable", args=[subscription.app.pk])
    assert enable in page and "every notice failed since" in page

    assert client.post(enable).status_code == 302
    subscription.refresh_from_db()
    assert subscription.disabled_at is None and subscription.failing_since is None
    recent.refresh_from_db()
    old.refresh_from_db()
    assert (recent.state, recent.max_attempts, old.state) == ("pending", 16, "parked")  # the last 7 days, a new round


@pytest.mark.django_db
def test_attack_staff_of_another_organisation_cannot_enable_a_webhook(client, webhooks):
    subscription = subscribed(webhooks)
    NoticeSubscription.objects.filter(pk=subscription.pk).update(disabled_at=timezone.now(), disabled_reason="x")
    client.force_login(platform_staff(OrganisationFactory()))
    assert client.post(reverse("staff_notice_endpoint_enable", args=[subscription.app.pk])).status_code == 404
    assert NoticeSubscription.objects.get(pk=subscription.pk).disabled_at is not None


@pytest.mark.django_db
def test_saving_the_subscription_through_the_api_enables_it_again(client, webhooks):
    app, key, secret = member_app()
    put = {"webhook_url": f"{webhooks.url}/api-app{protocol.NUMBER_NOTICES_PATH}", "event_types": ["reassigned"]}
    assert (
        signed_post(client, "/api/v1/platform/notice-subscription", put, key, secret, method="put").status_code == 201
    )
    NoticeSubscription.objects.filter(app=app).update(disabled_at=timezone.now(), disabled_reason="HTTP 410")
    path = "/api/v1/platform/notice-subscription"
    read = client.get(path, **signed_headers(path.encode(), key_id=key.key_id, secret=secret))
    assert read.json()["disabled_reason"] == "HTTP 410" and read.json()["disabled_at"]
    again = signed_post(client, "/api/v1/platform/notice-subscription", put, key, secret, method="put")
    assert again.status_code == 200 and again.json()["disabled_at"] is None


# --- replay ------------------------------------------------------------------------------------------------


def delivered(webhooks, subscription):
    delivery = a_notice(subscription)
    notices.run([str(delivery.pk)])
    delivery.refresh_from_db()
    assert delivery.state == "delivered"
    return delivery


@pytest.mark.django_db(transaction=True)
def test_staff_replay_a_delivered_notice_with_the_same_webhook_id_and_a_new_attempt(client, webhooks, no_stray_tasks):  # noqa: F811
    subscription = subscribed(webhooks)
    delivery = delivered(webhooks, subscription)
    person = platform_staff(subscription.app.organisation)
    client.force_login(person)
    page = client.get(reverse("staff_notice_detail", args=[delivery.pk])).content.decode()
    assert reverse("staff_notice_replay", args=[delivery.pk]) in page
    assert client.post(reverse("staff_notice_replay", args=[delivery.pk])).status_code == 302

    assert delivery_services.replay_run(str(delivery.pk)) is True  # what the worker does with the task
    first, replayed = webhooks.received(protocol.NUMBER_NOTICES_PATH)
    assert replayed["headers"]["webhook-id"] == first["headers"]["webhook-id"] == str(delivery.pk)
    assert Webhook(webhooks.secrets["hooks"]).verify(replayed["body"], replayed["headers"])["id"] == str(delivery.pk)
    attempt = NoticeAttempt.objects.filter(delivery=delivery).latest("number")
    assert (attempt.number, attempt.replay, attempt.status_code, attempt.requested_by) == (
        2,
        True,
        200,
        f"staff {person.email}",
    )
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.replay_due_at) == ("delivered", 2, None)
    assert delivery_services.replay_run(str(delivery.pk)) is False  # a second task for the same replay sends nothing


@pytest.mark.django_db(transaction=True)
def test_a_replay_delivers_a_parked_notice_and_a_failed_one_changes_nothing_else(webhooks, no_stray_tasks):  # noqa: F811
    subscription = subscribed(webhooks)
    parked = a_notice(subscription, state="parked", attempts=8, parked_at=timezone.now())
    delivery_services.replay_request(delivery=parked, by="test")
    delivery_services.replay_run(str(parked.pk))
    parked.refresh_from_db()
    assert (parked.state, parked.attempts) == ("delivered", 9)

    webhooks.status["hooks"] = 500
    pending = a_notice(subscription, attempts=2, next_attempt_at=timezone.now() + timedelta(minutes=30))
    delivery_services.replay_request(delivery=pending, by="test")
    assert delivery_services.replay_run(str(pending.pk)) is False
    pending.refresh_from_db()
    # still pending, its next scheduled try unchanged, and its place in the round kept
    assert (pending.state, pending.attempts, pending.max_attempts) == ("pending", 3, 9)
    assert pending.next_attempt_at > timezone.now() + timedelta(minutes=29)


@pytest.mark.django_db
def test_attack_staff_of_another_organisation_replaying_a_notice_get_404(client, webhooks):
    delivery = a_notice(subscribed(webhooks), state="delivered")
    client.force_login(platform_staff(OrganisationFactory()))
    assert client.post(reverse("staff_notice_replay", args=[delivery.pk])).status_code == 404
    client.force_login(StaffUserFactory(role="regulator", organisation=None))
    assert client.post(reverse("staff_notice_replay", args=[delivery.pk])).status_code == 404
    assert NoticeDelivery.objects.get(pk=delivery.pk).replay_due_at is None


def replay_api(client, delivery_id, key, secret, body=b""):
    return client.post(
        f"/api/v1/platform/notices/{delivery_id}/replay",
        body,
        content_type="application/json",
        **signed_headers(body, key_id=key.key_id, secret=secret),
    )


@pytest.fixture
def member_notice(webhooks):
    """A notice of a member app whose system holds an integration key."""
    app, key, secret = member_app()
    subscription = subscribed(webhooks, name="member-hooks", organisation=app.organisation)
    return a_notice(subscription, state="delivered"), key, secret


@pytest.mark.django_db
def test_the_member_api_replays_a_notice(client, member_notice):
    delivery, key, secret = member_notice
    answer = replay_api(client, delivery.pk, key, secret)
    assert answer.status_code == 202, answer.content
    assert answer.json()["id"] == str(delivery.pk) and answer.json()["replay_due_at"]
    assert NoticeDelivery.objects.get(pk=delivery.pk).replay_requested_by == f"api {key.key_id}"
    assert replay_api(client, delivery.pk, key, secret).status_code == 202  # asked twice: still one replay


@pytest.mark.django_db
def test_attack_a_member_replaying_another_organisations_notice_gets_404(client, member_notice, webhooks):
    delivery, _key, _secret = member_notice
    _app, other_key, other_secret = member_app()
    assert replay_api(client, delivery.pk, other_key, other_secret).status_code == 404
    assert NoticeDelivery.objects.get(pk=delivery.pk).replay_due_at is None


@pytest.mark.django_db
def test_attack_an_unsigned_replay_is_refused(client, member_notice):
    delivery, _key, _secret = member_notice
    assert client.post(f"/api/v1/platform/notices/{delivery.pk}/replay").status_code in (401, 403)


@pytest.mark.django_db
def test_a_notice_older_than_seven_days_is_not_replayed_and_says_why(client, member_notice):
    delivery, key, secret = member_notice
    NoticeDelivery.objects.filter(pk=delivery.pk).update(created_at=timezone.now() - timedelta(days=7, minutes=1))
    answer = replay_api(client, delivery.pk, key, secret)
    assert answer.status_code == 409 and answer.json()["code"] == "replay_window_passed"
    assert "7" in answer.json()["detail"]


@pytest.mark.django_db
def test_a_notice_of_a_disabled_webhook_is_not_replayed(client, member_notice):
    delivery, key, secret = member_notice
    NoticeSubscription.objects.filter(pk=delivery.subscription_id).update(disabled_at=timezone.now())
    answer = replay_api(client, delivery.pk, key, secret)
    assert answer.status_code == 409 and answer.json()["code"] == "endpoint_disabled"


@pytest.mark.django_db
def test_attack_replay_flood_is_capped_per_notice_and_day(client, member_notice, settings):
    delivery, key, secret = member_notice
    settings.NOTICE_REPLAYS_PER_DAY = 3
    for _ in range(3):
        NoticeAttempt.objects.create(delivery=delivery, number=1, started_at=timezone.now(), duration_ms=1, replay=True)
    answer = replay_api(client, delivery.pk, key, secret)
    assert answer.status_code == 429 and answer.json()["code"] == "replay_limit" and answer.json()["retry_at"]


@pytest.mark.django_db
def test_a_replay_request_with_a_body_is_refused(client, member_notice):
    delivery, key, secret = member_notice
    answer = replay_api(client, delivery.pk, key, secret, body=json.dumps({"url": "http://elsewhere"}).encode())
    assert answer.status_code == 400 and answer.json()["code"] == "invalid"


@pytest.mark.django_db
def test_the_openapi_schema_lists_every_status_of_the_replay(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/platform/notices/{notice_id}/replay"]["post"]
    assert set(operation["responses"]) == {"202", "400", "401", "403", "404", "409", "429"}
    assert operation["security"] == [{"memberSignature": []}]


# --- with a real worker and the simulator -------------------------------------------------------------------


@pytest.fixture
def fresh_simulator(simulator):
    import httpx

    httpx.post(f"{simulator}/_control/reset", timeout=5)
    yield simulator
    control(simulator, "app05", webhook_down=False)


def test_a_worker_replays_a_delivered_notice_and_the_member_counts_it_once(client, celery_workers, fresh_simulator):
    sim = fresh_simulator
    celery_workers.start("w1", "--concurrency", "2")
    celery_workers.wait_until_ready(1)
    _app, key, secret = subscribe(client, sim, "app05")
    carrier, carrier_secret = carrier_key()
    report_events(client, carrier, carrier_secret, events(20))
    delivery = wait_for(lambda: NoticeDelivery.objects.filter(state="delivered").first(), timeout=60, what="the notice")

    assert replay_api(client, delivery.pk, key, secret).status_code == 202
    wait_for(
        lambda: NoticeAttempt.objects.filter(delivery=delivery, replay=True, status_code=200).exists(),
        timeout=60,
        what="the replay to be sent by the worker",
    )
    assert inbox(sim, "app05")["numbers"] == 20 and inbox(sim, "app05")["refused"] == 0  # verified, counted once by id


def test_a_worker_disables_an_endpoint_failing_for_five_days_and_sends_the_mail(
    client, celery_workers, fresh_simulator, monkeypatch
):
    sim = fresh_simulator
    monkeypatch.setenv("NOTICE_RETRY_SCHEDULE", "0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5")
    celery_workers.start("w1", "--concurrency", "2")
    celery_workers.wait_until_ready(1)
    app, *_ = subscribe(client, sim, "app05")
    platform_staff(app.organisation)
    control(sim, "app05", webhook_down=True)
    # five days of failures already behind it: the next failure disables it
    NoticeSubscription.objects.filter(app=app).update(failing_since=timezone.now() - timedelta(days=6))
    carrier, carrier_secret = carrier_key()
    report_events(client, carrier, carrier_secret, events(5))

    subscription = wait_for(
        lambda: NoticeSubscription.objects.filter(app=app, disabled_mailed_at__isnull=False).first(),
        timeout=90,
        what="the endpoint to be disabled and its staff e-mailed",
    )
    assert subscription.disabled_at is not None
    assert not NoticeDelivery.objects.filter(subscription=subscription, state="pending").exists()
