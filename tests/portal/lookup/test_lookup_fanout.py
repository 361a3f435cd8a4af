"""One lookup fans out to every member app; each app's row settles on its own."""

import signal
import time

import pytest
import redis
from django.conf import settings

from portal.lookup import fanout, services
from portal.lookup.models import Lookup, LookupQuery
from portal.sms.models import SmsMessage
from portal.verification.services import verification_code_send
from tests.portal.lookup.helpers import (
    latest_code,
    simulated_apps,
    wait_until_completed,
)

pytestmark = pytest.mark.worker


def start_lookup(phone="13812345678", id_last6="40213X"):
    verification_code_send(phone_number=phone, client_ip="127.0.0.1")
    lookup, token = services.lookup_start(phone_number=phone, id_last6=id_last6, code=latest_code())
    return lookup


def test_slow_failing_and_garbage_members_cost_only_their_own_rows(celery_workers, simulator):
    simulated_apps(simulator, ["app01"])
    simulated_apps(simulator, ["app02"], timeout_ms=3000)  # hangs
    simulated_apps(simulator, ["app03", "app04", "app08", "app09"])  # 503 always; garbage; a huge body; forged
    down = simulated_apps(simulator, ["app05"])[0]  # ...registered at a port where nothing listens
    type(down.integration).objects.filter(pk=down.integration.pk).update(base_url="http://127.0.0.1:9/app05")
    celery_workers.start("fanout", "--concurrency", "2")
    celery_workers.wait_until_ready(1)

    lookup = start_lookup()
    lookup = wait_until_completed(lookup.pk)

    rows = {q.app.name: q for q in lookup.queries.select_related("app")}
    assert rows["模拟app01"].state in ("answered", "no_account") and rows["模拟app01"].attempts == 1
    assert rows["模拟app02"].state == "timed_out" and "3000 ms" in rows["模拟app02"].error
    assert rows["模拟app03"].state == "error" and "503" in rows["模拟app03"].error
    assert rows["模拟app03"].attempts == settings.LOOKUP_MAX_ATTEMPTS
    assert rows["模拟app04"].state == "error" and "accounts" in rows["模拟app04"].error
    assert rows["模拟app08"].state == "error" and "cap" in rows["模拟app08"].error
    assert rows["模拟app09"].state == "error" and "signature" in rows["模拟app09"].error
    assert rows["模拟app05"].state == "error" and "could not connect" in rows["模拟app05"].error
    assert rows["模拟app05"].attempts == settings.LOOKUP_MAX_ATTEMPTS
    # the good member's answer did not wait for the hanging one
    assert (rows["模拟app01"].finished_at - lookup.created_at).total_seconds() < 2.5
    # the holder gets the summary by SMS
    assert SmsMessage.objects.filter(purpose="lookup_summary").count() == 1


def test_a_worker_killed_mid_lookup_loses_nothing(celery_workers, simulator, settings):
    simulated_apps(simulator, ["app01", "app05", "app06"], timeout_ms=1000)
    worker = celery_workers.start("doomed", "--concurrency", "1")
    celery_workers.wait_until_ready(1)
    lookup = start_lookup(phone="13900001111")
    time.sleep(0.3)
    worker.send_signal(signal.SIGKILL)  # the whole worker, mid-job: its message is never acknowledged
    worker.wait()

    celery_workers.start("rescuer", "--concurrency", "1")
    deadline = time.time() + 30
    # until the lookup completes, not just its rows: the kill may land after the last answer was written
    # and before the lookup was marked, which only the sweeper then finishes
    while time.time() < deadline and Lookup.objects.get(pk=lookup.pk).state != Lookup.State.COMPLETED:
        services.lookup_sweep()  # what beat runs every few seconds
        time.sleep(0.5)
    assert wait_until_completed(lookup.pk).apps_total == 3
    assert not lookup.queries.exclude(state__in=["answered", "no_account"]).exists()


def test_a_flushed_broker_loses_nothing(celery_workers, simulator):
    simulated_apps(simulator, ["app01", "app07"])
    lookup = start_lookup(phone="13900002222")  # no worker yet: the jobs wait in Redis
    redis.Redis.from_url(settings.REDIS_URL).flushdb()  # ...and are gone (the broker is REDIS_URL)

    celery_workers.start("after-flush", "--concurrency", "1")
    celery_workers.wait_until_ready(1)
    deadline = time.time() + 30
    while time.time() < deadline and lookup.queries.exclude(state__in=LookupQuery.SETTLED).exists():
        services.lookup_sweep()
        time.sleep(0.5)
    assert wait_until_completed(lookup.pk).apps_total == 2
    assert not lookup.queries.exclude(state__in=["answered", "no_account"]).exists()


@pytest.mark.django_db(transaction=True)
def test_a_member_failing_again_and_again_is_skipped_and_shown_unavailable(simulator):
    """The circuit breaker: a member over the failure count is not called at all, on a lookup's first
    attempt as on a retry."""
    from django.utils import timezone

    from portal.celery import app as celery_app

    (app,) = simulated_apps(simulator, ["app01"])
    Integration = app.integration.__class__
    Integration.objects.filter(pk=app.integration.pk).update(
        consecutive_failures=settings.LOOKUP_CIRCUIT_FAILURES, last_failure_at=timezone.now()
    )
    lookup = start_lookup(phone="13900003333")

    query = lookup.queries.get()
    assert query.state == "unavailable" and "failures in a row" in query.error
    assert query.attempts == 0  # no call was made
    lookup.refresh_from_db()
    assert lookup.state == "completed"  # nothing else to wait for

    # A member that started failing after the lookup began: its retry (or the sweeper's re-send) skips it.
    Integration.objects.filter(pk=app.integration.pk).update(consecutive_failures=0)
    lookup = start_lookup(phone="13900004444")
    Integration.objects.filter(pk=app.integration.pk).update(consecutive_failures=settings.LOOKUP_CIRCUIT_FAILURES)
    fanout.run(list(lookup.queries.values_list("pk", flat=True)))  # what a worker runs for a retry

    query = lookup.queries.get()
    assert query.state == "unavailable" and query.attempts == 1  # the first attempt was the lookup's own dispatch
    lookup.refresh_from_db()
    assert lookup.state == "completed"
    celery_app.control.purge()  # no worker ran here: leave no message for the next test's workers


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_settles_rows_out_of_attempts_and_resends_the_others(simulator):
    from datetime import timedelta

    from django.utils import timezone
    from django.utils.translation import gettext as _

    from portal.celery import app as celery_app

    simulated_apps(simulator, ["app01", "app02", "app03", "app04"])
    lookup = start_lookup(phone="13900005555")  # no worker: the rows stay as the lookup left them
    celery_app.control.purge()
    late = timezone.now() - timedelta(seconds=1)
    q1, q2, q3, q4 = lookup.queries.order_by("app__name")
    max_attempts = settings.LOOKUP_MAX_ATTEMPTS
    LookupQuery.objects.filter(pk=q1.pk).update(deadline_at=late, attempts=max_attempts)  # its worker died
    LookupQuery.objects.filter(pk=q2.pk).update(deadline_at=late, attempts=max_attempts, state="waiting")
    LookupQuery.objects.filter(pk=q3.pk).update(deadline_at=late, attempts=max_attempts, error=fanout.AWAITING_CALLBACK)
    LookupQuery.objects.filter(pk=q4.pk).update(deadline_at=late)  # first attempt lost: sent again

    assert services.lookup_sweep() == 1
    rows = {q.pk: q for q in lookup.queries.all()}
    no_answer = _("no answer after %(n)d attempts") % {"n": max_attempts}  # in the site's language, as shown
    assert (rows[q1.pk].state, rows[q1.pk].error) == ("timed_out", no_answer)
    assert (rows[q2.pk].state, rows[q2.pk].error) == ("error", no_answer)
    assert (rows[q3.pk].state, rows[q3.pk].error) == ("timed_out", _("no callback before the deadline"))
    assert rows[q4.pk].state == "running" and rows[q4.pk].deadline_at > timezone.now()  # a new deadline
    lookup.refresh_from_db()
    assert lookup.state == "running"  # one row still out
    celery_app.control.purge()


def test_a_members_rate_limit_holds_across_a_batch_and_the_rest_wait_for_the_next_second():
    """Per-integration requests a second, counted in Redis (shared by every worker): a batch is counted
    in one round trip, and calls over the limit wait for the next second."""
    import asyncio
    import time

    from portal.lookup.fanout import Call
    from portal.outbound.loop import RateLimiter, run_in_loop

    def call(query_id, integration_id, rps):
        return Call(
            query_id=query_id,
            lookup_id="l",
            integration_id=integration_id,
            url="",
            body=b"",
            key_id="k",
            answer_secrets={},
            timeout_s=1,
            rps=rps,
            holder_since=None,
        )

    async def scenario():
        limiter = RateLimiter()
        while time.time() % 1 > 0.5:  # start early in a second, so the batch and the check share it
            await asyncio.sleep(0.05)
        second = int(time.time())
        admitted = await limiter.admit([call(n, 900001, 2) for n in range(5)] + [call(9, 900002, 10)])
        await limiter.wait(900001, 2)  # the third call to the first member
        waited_into = int(time.time())
        await limiter.redis.aclose()
        return admitted, second, waited_into

    admitted, second, waited_into = run_in_loop(scenario())  # the loop the workers call members from
    assert admitted == {0, 1, 9}
    assert waited_into > second
