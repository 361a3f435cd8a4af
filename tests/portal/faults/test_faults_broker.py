"""Work committed to the database while the broker refuses its message is not lost: the row is stored,
the person or the carrier gets their answer, and once the broker is back the sweeper of that kind of row
(what beat runs) hands it to a worker. The broker is the fault tests' own Valkey (tests/portal/
fault_servers.py), stopped after the commit's rows and before their enqueue; restarted, it is empty, as
a Redis that keeps nothing on disk is after a restart."""

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from portal.lookup import services
from portal.lookup.models import LookupQuery
from portal.notices import delivery as notices
from portal.notices.models import NoticeDelivery
from portal.recycling.models import NumberEventUpload
from portal.recycling.uploads import number_event_uploads_sweep
from portal.sms.models import SmsMessage
from portal.sms.services import sms_resend_stuck
from portal.unbinding.models import UnbindRequest
from portal.unbinding.services import unbind_request_create, unbind_sweep
from portal.verification.services import verification_code_send
from tests.portal.faults.servers import broker_workers, fault_broker, fault_broker_server  # noqa: F401 (fixtures)
from tests.portal.lookup.helpers import latest_code, simulated_apps, wait_for, wait_until_completed
from tests.portal.notices.helpers import carrier_key, events, inbox, report_events, subscribe
from tests.portal.recycling.test_number_event_uploads import carrier_staff, uploaded
from tests.portal.unbinding.helpers import completed_lookup, number_with_previous_accounts

pytestmark = pytest.mark.worker

WORKER_START = 90  # seconds: a generous bound for a worker to start on a loaded machine


def _long_ago(model, **filters):
    """Rows as the sweeper finds them a few minutes later (what the tests do not wait for)."""
    field = {
        SmsMessage: "created_at",
        LookupQuery: "deadline_at",
        UnbindRequest: "next_attempt_at",
        NumberEventUpload: "progress_at",
        NoticeDelivery: "next_attempt_at",
    }[model]
    model.objects.filter(**filters).update(**{field: timezone.now() - timedelta(minutes=10)})


def _start_worker(workers, name):
    workers.start(name, "--concurrency", "2")
    workers.wait_until_ready(1, timeout=WORKER_START)


def test_broker_down_between_commit_and_enqueue_code_sms_is_sent_after_broker_returns(
    client, broker_workers, fault_broker
):
    fault_broker.stop()
    key = client.post("/api/v1/captcha", content_type="application/json", data={}).json()["captcha_key"]
    answer = client.post(
        "/api/v1/verification-codes",
        content_type="application/json",
        data={"phone_number": "13900139001", "captcha_key": key, "captcha_answer": "passed"},
    )
    assert answer.status_code == 503 and answer.json()["code"] == "temporarily_unavailable"  # told, not promised
    message = SmsMessage.objects.get(purpose="verification_code")
    assert message.status == "queued"  # the code and its SMS were committed before the broker refused

    fault_broker.start()
    _start_worker(broker_workers, "sms")
    _long_ago(SmsMessage)
    assert sms_resend_stuck() == 1
    wait_for(lambda: SmsMessage.objects.filter(pk=message.pk, status="sent").exists(), timeout=60, what="the code SMS")
    assert SmsMessage.objects.count() == 1


def test_broker_down_between_commit_and_enqueue_lookup_jobs_run_after_broker_returns(
    broker_workers, fault_broker, simulator
):
    simulated_apps(simulator, ["app01", "app05"])
    verification_code_send(phone_number="13900139002", client_ip="127.0.0.1")
    code = latest_code()
    fault_broker.stop()  # the code SMS's message goes with it: it was never delivered here
    lookup, token = services.lookup_start(phone_number="13900139002", id_last6="40213X", code=code)
    assert token and lookup.queries.filter(state="running").count() == 2  # the holder has the lookup

    fault_broker.start()
    _start_worker(broker_workers, "lookups")
    _long_ago(LookupQuery, lookup=lookup)
    wait_for(
        lambda: services.lookup_sweep() or LookupQuery.objects.filter(lookup=lookup, attempts=2).count() == 2,
        timeout=30,
        what="the sweeper to send the calls again",
    )
    lookup = wait_until_completed(lookup.pk, timeout=60)
    assert not lookup.queries.exclude(state__in=["answered", "no_account"]).exists()
    assert SmsMessage.objects.filter(purpose="lookup_summary").count() == 1


def test_broker_down_between_commit_and_enqueue_unbind_deliveries_are_pushed_after_broker_returns(
    broker_workers, fault_broker, simulator
):
    simulated_apps(simulator, ["app01"], supports_unbind=True)
    _start_worker(broker_workers, "unbind")
    lookup, _token = completed_lookup(number_with_previous_accounts(["app01"]))
    broker_workers.stop_all()  # a worker on a Unix-socket broker does not outlive the broker's restart (kombu)
    fault_broker.stop()
    (request,) = unbind_request_create(lookup=lookup)
    assert request.delivery == "push" and request.state == "queued"

    fault_broker.start()
    _start_worker(broker_workers, "unbind-after")
    _long_ago(UnbindRequest, pk=request.pk)
    assert unbind_sweep() == 1
    done = wait_for(
        lambda: UnbindRequest.objects.filter(pk=request.pk, state="done").first(),
        timeout=90,
        what="the unbind request delivered and answered",
    )
    assert done.attempts == 1 and SmsMessage.objects.filter(purpose="unbind").count() == 1


def test_broker_down_between_commit_and_enqueue_notices_are_planned_and_sent_after_broker_returns(
    client, broker_workers, fault_broker, simulator
):
    httpx.post(f"{simulator}/_control/reset", timeout=5)
    subscribe(client, simulator, "app05")
    key, secret = carrier_key()
    fault_broker.stop()
    assert report_events(client, key, secret, events(30))["accepted"] == 30  # the carrier's batch is kept: 200
    wait_for(
        lambda: notices.sweep() is not None and NoticeDelivery.objects.exists(),
        timeout=30,
        what="the sweeper to plan the notice (its message refused too)",
    )
    assert NoticeDelivery.objects.get().state == "pending"

    fault_broker.start()
    _start_worker(broker_workers, "notices")
    _long_ago(NoticeDelivery)
    assert notices.sweep() == 1
    wait_for(lambda: inbox(simulator, "app05")["numbers"] == 30, timeout=60, what="the notice at the member")
    assert NoticeDelivery.objects.get().state == "delivered" and inbox(simulator, "app05")["notices"] == 1


def test_broker_down_between_commit_and_enqueue_carrier_upload_is_read_after_broker_returns(
    client, broker_workers, fault_broker
):
    fault_broker.stop()
    row = uploaded(client, carrier_staff())  # the carrier sees its upload queued, not an error
    assert row.state == "queued"

    fault_broker.start()
    _start_worker(broker_workers, "uploads")
    _long_ago(NumberEventUpload, pk=row.pk)
    assert number_event_uploads_sweep() == 1
    row = wait_for(
        lambda: NumberEventUpload.objects.filter(pk=row.pk, state="completed").first(),
        timeout=60,
        what="the upload read",
    )
    assert (row.rows_accepted, row.rows_rejected) == (3, 4)
