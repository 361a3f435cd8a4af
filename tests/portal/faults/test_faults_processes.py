"""Whichever process dies, nothing committed is lost: the web process killed (-9) between a commit and its
enqueue, a worker killed mid-file, beat killed; after a restart every row settles. And two beats running at
once by mistake send no periodic message twice: every periodic job is idempotent or takes a lock."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import timedelta

import httpx
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from complaints.models import Complaint, ComplaintEvent
from complaints.services import complaint_file
from portal.celery import app as celery_app
from portal.lookup import services
from portal.lookup.models import Lookup, LookupQuery
from portal.notices.models import NoticeAttempt, NoticeDelivery
from portal.recycling.models import NumberEvent, NumberEventUpload
from portal.recycling.uploads import number_event_uploads_sweep
from portal.sms.models import SmsMessage
from portal.sms.services import sms_deliver_now
from portal.verification.services import verification_code_send
from tests.conftest import ROOT, worker_env
from tests.member_server import MemberServer
from tests.portal.fault_helpers import carrier_file, start_portal
from tests.portal.faults.servers import broker_workers, fault_broker, fault_broker_server  # noqa: F401 (fixtures)
from tests.portal.lookup.helpers import latest_code, simulated_apps, wait_for, wait_until_completed
from tests.portal.notices.helpers import carrier_key, events, inbox, report_events, subscribe
from tests.portal.recycling.test_number_event_uploads import carrier_staff, uploaded
from tests.registry.factories import MemberAppFactory

pytestmark = pytest.mark.worker


class SmsProvider(MemberServer):
    """An SMS provider on loopback that takes its time (so two deliveries of one message would overlap)
    and keeps what it is given."""

    delay = 1.0

    def answer(self, name, request):
        time.sleep(self.delay)
        return 200, {"id": f"p-{json.loads(request['body'])['reference']}"}, None

    def references(self) -> Counter:
        return Counter(payload["reference"] for payload in (json.loads(r["body"]) for r in self.requests))


def _periodic_twice(*task_names: str) -> None:
    """What two beats do: each sends every periodic task when it falls due, at the same moment."""
    for name in task_names:
        celery_app.send_task(name)
        celery_app.send_task(name)


def test_two_beats_at_once_send_no_complaint_deadline_sms_or_notice_twice(client, celery_workers, simulator):
    provider = SmsProvider()
    celery_workers.env.update(SMS_BACKEND="portal.sms.backends.HttpBackend", SMS_HTTP_URL=provider.url + "/send")
    app = MemberAppFactory()
    for i in range(10):
        complaint_file(
            phone_number=f"1390013{i:04d}",
            category="debt_collection",
            app=app,
            province="44",
            description="每天收到催收短信，收件人是前机主。",
        )
    Complaint.objects.update(answer_due_at=timezone.now() - timedelta(hours=1))  # no answer in 15 days
    httpx.post(f"{simulator}/_control/reset", timeout=5)
    subscribe(client, simulator, "app05")
    key, secret = carrier_key()
    report_events(client, key, secret, events(40))
    celery_app.control.purge()  # the nudges are lost: only the periodic jobs plan, send and re-send
    SmsMessage.objects.update(created_at=timezone.now() - timedelta(minutes=10))  # the filing SMS, still queued
    time.sleep(3)  # the events settle (the feed's settle period), so a sweep plans them

    celery_workers.start("beat-a", "--concurrency", "2")
    celery_workers.start("beat-b", "--concurrency", "2")
    celery_workers.wait_until_ready(2)
    _periodic_twice(
        "complaints.tasks.complaint_deadlines_enforce", "portal.tasks.notices_sweep", "portal.tasks.sms_resend_stuck"
    )

    wait_for(lambda: inbox(simulator, "app05")["numbers"] == 40, timeout=60, what="the notice at the member")
    wait_for(lambda: Complaint.objects.filter(state="escalated").count() == 10, timeout=60, what="escalations")
    wait_for(lambda: not SmsMessage.objects.exclude(status="sent").exists(), timeout=60, what="every SMS sent")
    SmsMessage.objects.update(created_at=timezone.now() - timedelta(minutes=10))
    _periodic_twice(
        "complaints.tasks.complaint_deadlines_enforce", "portal.tasks.notices_sweep", "portal.tasks.sms_resend_stuck"
    )  # the next round finds everything done
    time.sleep(5)

    messages = SmsMessage.objects.filter(purpose="complaint")
    assert messages.count() == 30  # ten "received", ten "sent to the platform", ten "escalated": one each
    assert ComplaintEvent.objects.filter(action="escalated", field="state").count() == 10  # each case moved once
    assert provider.references() == Counter({str(pk): 1 for pk in messages.values_list("pk", flat=True)})
    assert NoticeDelivery.objects.count() == 1 and NoticeAttempt.objects.count() == 1
    assert inbox(simulator, "app05")["notices"] == 1 and inbox(simulator, "app05")["numbers"] == 40


@pytest.mark.django_db(transaction=True)
def test_two_nudges_of_one_sms_at_once_send_it_once(settings):
    """The sweeper's nudge and the first one (or two beats' sweepers) delivering one message at the same
    moment: the second finds the row locked and leaves it."""
    provider = SmsProvider()
    settings.SMS_BACKEND, settings.SMS_HTTP_URL = "portal.sms.backends.HttpBackend", provider.url + "/send"
    message = SmsMessage.objects.create(
        phone_number="13900139400", text="【码号服务】您的投诉已升级。", purpose="complaint"
    )
    results = []

    def deliver():
        results.append(sms_deliver_now(message_id=message.pk, final_attempt=False).status)
        connection.close()

    nudges = [threading.Thread(target=deliver) for _ in range(2)]
    for nudge in nudges:
        nudge.start()
        time.sleep(0.1)  # the second arrives while the provider is taking the first
    for nudge in nudges:
        nudge.join(timeout=30)
    provider.stop()
    assert provider.references() == Counter({str(message.pk): 1})
    assert sorted(results) == ["queued", "sent"]  # the second left it to the first
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 1)


def test_web_killed_mid_request_between_commit_and_enqueue_the_lookup_settles_after_restart(
    broker_workers, fault_broker, simulator
):
    simulated_apps(simulator, ["app01", "app05"])
    env = worker_env(settings.DATABASES["default"]["NAME"]) | {"CELERY_BROKER_URL": fault_broker.url}
    log = tempfile.NamedTemporaryFile(prefix="portal-killed-", suffix=".log")
    web, url = start_portal(env, log)
    with httpx.Client(base_url=url, timeout=60) as http:
        captcha = http.post("/api/v1/captcha", json={}).json()["captcha_key"]
        assert (
            http.post(
                "/api/v1/verification-codes",
                json={"phone_number": "13900139200", "captcha_key": captcha, "captcha_answer": "passed"},
            ).status_code
            == 202
        )
    code = latest_code()
    fault_broker.pause()  # a hung broker: the web process commits the lookup, then waits on its enqueue

    def start_lookup():
        try:
            httpx.post(
                url + "/api/v1/lookups",
                json={"phone_number": "13900139200", "id_last6": "40213X", "code": code},
                timeout=120,
            )
        except httpx.TransportError:
            pass  # the process answering it is killed

    request = threading.Thread(target=start_lookup)
    request.start()
    lookup = wait_for(lambda: Lookup.objects.first(), timeout=60, what="the lookup committed")
    os.killpg(web.pid, signal.SIGKILL)  # mid-request: committed, never handed to the broker
    web.wait()
    request.join(timeout=30)
    fault_broker.kill()  # the hung broker restarted: what the killed process had begun to send is gone
    fault_broker.start()

    web, url = start_portal(env, log)  # the restart
    try:
        assert httpx.get(url + "/", timeout=30).status_code == 200
        broker_workers.start("after-kill", "--concurrency", "2")
        broker_workers.wait_until_ready(1, timeout=90)
        LookupQuery.objects.filter(lookup=lookup).update(deadline_at=timezone.now() - timedelta(seconds=1))
        assert services.lookup_sweep() == 2
        lookup = wait_until_completed(lookup.pk, timeout=60)
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=30)
        log.close()
    assert not lookup.queries.exclude(state__in=["answered", "no_account"]).exists()
    assert SmsMessage.objects.filter(purpose="lookup_summary").count() == 1  # the holder learns the result by SMS


def test_worker_killed_mid_upload_the_upload_finishes_with_each_event_stored_once(client, celery_workers):
    celery_workers.env["NUMBER_EVENT_UPLOAD_CHUNK_ROWS"] = "2000"
    staff = carrier_staff()
    doomed = celery_workers.start("doomed", "--concurrency", "1")
    celery_workers.wait_until_ready(1)
    row = uploaded(client, staff, content=carrier_file(30_000))
    wait_for(
        lambda: NumberEventUpload.objects.filter(pk=row.pk, rows_read__gt=0).exists(),
        timeout=90,
        what="the first chunk read",
    )
    doomed.send_signal(signal.SIGKILL)  # mid-file: its message is never acknowledged
    doomed.wait()
    assert NumberEventUpload.objects.get(pk=row.pk).state != "completed"

    celery_workers.start("rescuer", "--concurrency", "1")
    celery_workers.wait_until_ready(1)

    def swept_and_done():
        NumberEventUpload.objects.filter(pk=row.pk, state__in=["queued", "running"]).update(
            progress_at=timezone.now() - timedelta(minutes=10)
        )  # two minutes without progress, as the sweeper sees
        number_event_uploads_sweep()
        return NumberEventUpload.objects.filter(pk=row.pk, state="completed").first()

    row = wait_for(swept_and_done, timeout=120, what="the upload completed")
    assert (row.rows_read, row.rows_accepted, row.rows_duplicate, row.rows_rejected) == (30_000, 30_000, 0, 0)
    assert NumberEvent.objects.filter(carrier=staff.organisation).count() == 30_000


def _beat(schedule: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "beat", "-l", "WARNING", "-s", schedule],
        cwd=ROOT,
        env=worker_env(settings.DATABASES["default"]["NAME"]),
    )


def test_beat_killed_and_restarted_the_sweeps_go_on(celery_workers, simulator, tmp_path):
    schedule = str(tmp_path / "celerybeat-schedule")
    beat = _beat(schedule)
    try:
        wait_for(lambda: list(tmp_path.glob("celerybeat-schedule*")), timeout=90, what="beat to write its schedule")
        time.sleep(1)
        beat.send_signal(signal.SIGKILL)  # whatever it was writing
        beat.wait()

        simulated_apps(simulator, ["app01"])
        verification_code_send(phone_number="13900139300", client_ip="127.0.0.1")
        lookup, _token = services.lookup_start(phone_number="13900139300", id_last6="40213X", code=latest_code())
        celery_app.control.purge()  # its first calls are lost: only a sweep (beat's) sends them again
        celery_workers.start("after-beat", "--concurrency", "1")
        celery_workers.wait_until_ready(1)
        beat = _beat(schedule)  # the restart, on the schedule file the killed beat left
        lookup = wait_until_completed(lookup.pk, timeout=90)
    finally:
        beat.terminate()
        beat.wait(timeout=30)
    assert lookup.queries.get().attempts == 2  # sent again by the sweep the restarted beat ran
