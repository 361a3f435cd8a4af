"""Recycled-number notices end to end: the carrier API, a real worker, the real simulator."""

import httpx
import pytest
from django.urls import reverse

from portal.notices import selectors
from portal.notices.models import NoticeAttempt, NoticeDelivery
from tests.portal.lookup.helpers import wait_for
from tests.portal.notices.helpers import (
    carrier_key,
    control,
    events,
    inbox,
    report_events,
    subscribe,
)
from tests.registry.factories import platform_staff


@pytest.fixture
def fast_retries(monkeypatch, settings):
    """A short schedule (4 attempts) for the worker processes (they read the environment) and this process."""
    monkeypatch.setenv("NOTICE_RETRY_SCHEDULE", "0.3,0.6,1")
    settings.NOTICE_RETRY_SCHEDULE = [0.3, 0.6, 1.0]


@pytest.fixture
def fresh_simulator(simulator):
    httpx.post(f"{simulator}/_control/reset", timeout=5)
    yield simulator
    for slug in ("app05", "app06", "app07"):
        control(simulator, slug, webhook_down=False)


def test_every_subscribed_app_gets_its_numbers_once_signed_and_verifiable(client, celery_workers, fresh_simulator):
    sim = fresh_simulator
    celery_workers.start("w1", "--concurrency", "2")
    celery_workers.wait_until_ready(1)
    (_app5, *_), (_app6, *_) = subscribe(client, sim, "app05"), subscribe(client, sim, "app06", types=("cancelled",))
    key, secret = carrier_key()
    report_events(client, key, secret, events(1500))  # re-assigned: app05 wants them, app06 does not
    report_events(client, key, secret, events(700, start=5000, kind="cancelled"))

    wait_for(
        lambda: inbox(sim, "app05")["numbers"] == 2200 and inbox(sim, "app06")["numbers"] == 700,
        timeout=60,
        what="every number notified",
    )
    app05, app06 = inbox(sim, "app05"), inbox(sim, "app06")
    assert app05["refused"] == app06["refused"] == 0  # the member verified every signature
    assert app05["notices"] >= 3  # at most 1,000 numbers a notice
    assert NoticeDelivery.objects.exclude(state="delivered").count() == 0
    assert NoticeAttempt.objects.filter(status_code=200).count() == NoticeDelivery.objects.count()


def test_a_member_that_is_down_receives_every_notice_once_it_is_back(
    client, celery_workers, fresh_simulator, fast_retries, monkeypatch
):
    sim = fresh_simulator
    monkeypatch.setenv("NOTICE_RETRY_SCHEDULE", ",".join(["0.3", "0.6"] + ["1"] * 27))  # 30 attempts
    celery_workers.start("w1", "--concurrency", "2")
    celery_workers.wait_until_ready(1)
    subscribe(client, sim, "app07")
    control(sim, "app07", webhook_down=True)
    key, secret = carrier_key()
    report_events(client, key, secret, events(2500))

    wait_for(lambda: inbox(sim, "app07")["down_refusals"] >= 6, timeout=60, what="the notices to fail a few times")
    assert inbox(sim, "app07")["numbers"] == 0
    control(sim, "app07", webhook_down=False)
    wait_for(lambda: inbox(sim, "app07")["numbers"] == 2500, timeout=60, what="every number once the member is back")
    wait_for(
        lambda: not NoticeDelivery.objects.exclude(state="delivered").exists(),
        timeout=60,
        what="every notice marked delivered",
    )
    failed = NoticeAttempt.objects.filter(status_code=503)
    assert failed.exists() and all(a.error.startswith("HTTP 503") and a.duration_ms >= 0 for a in failed)
    assert inbox(sim, "app07")["notices"] == NoticeDelivery.objects.count()


def test_retries_then_parking_then_a_staff_resend(client, celery_workers, fresh_simulator, fast_retries):
    sim = fresh_simulator
    celery_workers.start("w1", "--concurrency", "2")
    celery_workers.wait_until_ready(1)
    app, *_ = subscribe(client, sim, "app05")
    control(sim, "app05", webhook_down=True)
    key, secret = carrier_key()
    report_events(client, key, secret, events(10))

    parked = wait_for(
        lambda: NoticeDelivery.objects.filter(state="parked").first(), timeout=60, what="the notice to be parked"
    )
    assert parked.attempts == 4 and parked.attempt_log.count() == 4 and parked.last_error.startswith("HTTP 503")

    client.force_login(platform_staff(app.organisation))
    page = client.get(reverse("staff_app_notices", args=[app.pk])).content.decode()
    assert str(parked.pk) in page and "HTTP 503" in page
    control(sim, "app05", webhook_down=False)
    assert client.post(reverse("staff_notice_resend", args=[parked.pk])).status_code == 302
    wait_for(
        lambda: NoticeDelivery.objects.get(pk=parked.pk).state == "delivered",
        timeout=60,
        what="the re-sent notice to arrive",
    )
    assert inbox(sim, "app05")["numbers"] == 10 and parked.attempt_log.count() == 5


@pytest.fixture
def reporting_simulator(live_server):
    """A simulator whose apps report back to the portal under test after each notice."""
    from tests.conftest import running_simulator

    with running_simulator("--apps", "9", "--report-back", "--portal-url", live_server.url) as url:
        yield url


def test_simulated_apps_report_back_and_the_totals_add_up(client, celery_workers, reporting_simulator):
    from portal.devtools.demo import demo_key_secret
    from registry import services as registry_services

    sim = reporting_simulator
    celery_workers.start("w1", "--concurrency", "2")
    celery_workers.wait_until_ready(1)
    app, key, _secret = subscribe(client, sim, "app05")
    # the simulated app signs its reports with its demo key
    registry_services.integration_key_issue(
        integration=key.integration, by=None, key_id="demo_app05", secret=demo_key_secret("app05")
    )
    carrier, carrier_secret = carrier_key()
    report_events(client, carrier, carrier_secret, events(30))

    wait_for(lambda: inbox(sim, "app05")["reported"] == 1, timeout=60, what="the app to report back")
    delivery = NoticeDelivery.objects.get()
    assert delivery.reported_at is not None and delivery.bindings_removed is not None
    totals = selectors.notice_totals()
    assert (totals["numbers_renewed"], totals["bindings_removed"]) == (30, delivery.bindings_removed)
