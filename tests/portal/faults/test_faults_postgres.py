"""PostgreSQL restarted in the middle of the two longest jobs, a 200-app lookup and a carrier's file: both
finish, and nothing is stored twice. The server is the fault tests' own (tests/portal/fault_servers.py),
stopped fast (every connection cut, as a crash or a failover does) and started again while real workers
are at work."""

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.db.utils import Error as DatabaseError
from django.test import Client
from django.utils import timezone

from portal.celery import app as celery_app
from portal.lookup import services
from portal.lookup.models import LookupQuery
from portal.recycling.models import NumberEvent, NumberEventUpload
from portal.recycling.uploads import number_event_uploads_sweep
from portal.sms.models import SmsMessage
from portal.verification.services import verification_code_send
from tests.conftest import WorkerProcesses, running_simulator
from tests.portal.fault_helpers import carrier_file
from tests.portal.faults.servers import (  # noqa: F401 (fixtures)
    FAULT_DATABASE,
    fault_database,
    fault_env,
    on_fault_db,
    restart_postgres,
)
from tests.portal.lookup.helpers import latest_code, simulated_apps, wait_for
from tests.portal.recycling.test_number_event_uploads import carrier_staff, uploaded

pytestmark = pytest.mark.worker

APPS = 200
UPLOAD_ROWS = 30_000


@pytest.fixture
def fault_workers(on_fault_db, monkeypatch):
    monkeypatch.setenv("NUMBER_EVENT_UPLOAD_CHUNK_ROWS", "2000")  # a few chunks, so the restart lands between two
    workers = WorkerProcesses(FAULT_DATABASE, env=fault_env())
    yield workers
    workers.stop_all()
    celery_app.control.purge()  # the broker is the suite's: leave no message about the fault database's rows


def _restart_postgres() -> None:
    restart_postgres()
    connection.close()  # this process's connection died with the server


def _until(check, *, timeout: float, what: str, sweep=None):
    """Poll `check` (and run the sweeper, as beat does) through database errors until it holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if sweep:
                sweep()
            value = check()
            if value:
                return value
        except DatabaseError:
            connection.close()
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def test_postgres_restarted_mid_200_app_lookup_it_finishes_with_each_answer_stored_once(fault_workers):
    with running_simulator("--apps", str(APPS), "--latency-ms", "1500") as simulator:
        simulated_apps(simulator, [f"app{i:02d}" for i in range(1, APPS + 1)], timeout_ms=3000)
        fault_workers.start("lookups", "--concurrency", "2")
        fault_workers.wait_until_ready(1, timeout=90)
        verification_code_send(phone_number="13900139100", client_ip="127.0.0.1")
        lookup, _token = services.lookup_start(phone_number="13900139100", id_last6="40213X", code=latest_code())
        time.sleep(1)  # the idle worker has the calls out (1.5 s each): their answers come while the server is away
        assert type(lookup).objects.get(pk=lookup.pk).state == "running"  # the restart lands mid-lookup
        _restart_postgres()
        # rows whose answer could not be written stay running until their deadline; the sweeper sends them again
        lookup = _until(
            lambda: type(lookup).objects.filter(pk=lookup.pk, state="completed").first(),
            timeout=120,
            what="the lookup completed",
            sweep=services.lookup_sweep,
        )
    rows = LookupQuery.objects.filter(lookup=lookup)
    assert rows.count() == APPS and rows.values("app").distinct().count() == APPS
    assert rows.filter(state__in=["answered", "no_account"]).count() == APPS
    assert lookup.apps_total == APPS and lookup.accounts_total == sum(len(r.accounts) for r in rows)
    assert SmsMessage.objects.filter(purpose="lookup_summary").count() == 1


def test_postgres_restarted_mid_carrier_upload_it_finishes_with_each_event_stored_once(fault_workers):
    client = Client()
    staff = carrier_staff()
    row = uploaded(client, staff, content=carrier_file(UPLOAD_ROWS))
    fault_workers.start("uploads", "--concurrency", "1")
    fault_workers.wait_until_ready(1, timeout=90)
    wait_for(
        lambda: NumberEventUpload.objects.filter(pk=row.pk, rows_read__gt=0).exists(),
        timeout=90,
        what="the first chunk read",
    )
    assert NumberEventUpload.objects.get(pk=row.pk).state != "completed"  # the restart lands mid-file
    _restart_postgres()

    def sweep():
        NumberEventUpload.objects.filter(pk=row.pk, state__in=["queued", "running"]).update(
            progress_at=timezone.now() - timedelta(minutes=10)
        )  # what two minutes without progress look like
        number_event_uploads_sweep()

    row = _until(
        lambda: NumberEventUpload.objects.filter(pk=row.pk, state="completed").first(),
        timeout=150,
        what="the upload completed",
        sweep=sweep,
    )
    assert (row.rows_read, row.rows_accepted, row.rows_duplicate, row.rows_rejected) == (UPLOAD_ROWS, UPLOAD_ROWS, 0, 0)
    assert NumberEvent.objects.filter(carrier=staff.organisation).count() == UPLOAD_ROWS
