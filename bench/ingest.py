"""Carrier ingest benchmark (issue: Recycled numbers, section 5, "Ingest").

Sends one million carrier events through the real API (`POST /api/v1/carrier/number-events`, signed
like protocol v2, batches of 10,000) to gunicorn with 2 workers on PostgreSQL, and prints events a
second against the target of 35,000. Half the events cancel a number and half re-assign one, so the
freeze-period check runs; then the same first batch is sent again and must store nothing.

    .venv/bin/python bench/ingest.py [--events 1000000] [--batch 10000] [--clients 4] [--web-workers 2]
    .venv/bin/python bench/ingest.py --csv [--events 1000000]   # the console's CSV path instead

With --csv, the same events go into one CSV file, uploaded through the carrier console's service and
read the way the Celery task reads it (in this process, chunk after chunk); it prints rows a second
and how much the process's peak memory grew (it must stay flat, whatever the file's size).

Uses its own database (portal_bench, or DATABASE_URL) and Redis database 13, both emptied first.
"""

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

from common import ROOT, configure, prepare_database  # noqa: E402

configure(database="portal_bench", redis_db=13, CONN_MAX_AGE="60")  # persistent connections, as production


TARGET = 35_000
KEY_ID, SECRET = "bench_carrier", "whsec_YmVuY2gtY2Fycmllci1zaWduaW5nLXNlY3JldC0wMTI="  # whsec_ + base64 of 32 bytes


def register_carrier():
    from registry import services as registry_services
    from registry.models import Integration, MemberApp, Organisation
    from registry.validators import uscc_check_character

    prefix = "91110000MA0BENCH1"
    carrier = Organisation.objects.create(
        kind="basic_carrier",
        legal_name="压测运营商",
        credit_code=prefix + uscc_check_character(prefix),
        contact_name="x",
        contact_email="x@example.com",
        status="active",
        number_segments="138 139 150",
    )
    app = MemberApp.objects.create(
        organisation=carrier, name="压测营业厅", category="telecom", go_live_date="2026-01-01"
    )
    integration = Integration.objects.create(app=app, base_url="http://127.0.0.1:9/none")
    registry_services.integration_key_issue(integration=integration, by=None, key_id=KEY_ID, secret=SECRET)
    return carrier


def cpu_seconds(pids) -> float:
    """User + system CPU time of these processes so far (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def server_pids(web_pid: int, database: str) -> tuple[list[int], list[int]]:
    """The gunicorn workers, and the PostgreSQL backends serving the bench database."""
    import psycopg

    children = Path(f"/proc/{web_pid}/task/{web_pid}/children").read_text().split()
    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        backends = [row[0] for row in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [database])]
    return [int(pid) for pid in children], backends


def batches(total: int, size: int) -> list[bytes]:
    """Pre-encoded request bodies (the client's JSON work is not what is measured). Numbers are
    cancelled in one batch and re-assigned in the next, 60 to 200 days later."""
    rng = random.Random(35000)
    tz = timezone(timedelta(hours=8))
    start = datetime(2025, 6, 1, tzinfo=tz)
    bodies, n = [], 0
    while n < total:
        events = []
        for _ in range(min(size, total - n) // 2):
            phone = f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"
            cancelled = start + timedelta(minutes=rng.randrange(200_000))
            reassigned = cancelled + timedelta(days=rng.randrange(60, 200))
            events.append(
                {
                    "event_id": f"b{n}",
                    "phone_number": "+86" + phone,
                    "type": "cancelled",
                    "occurred_at": cancelled.isoformat(),
                }
            )
            events.append(
                {
                    "event_id": f"b{n + 1}",
                    "phone_number": "+86" + phone,
                    "type": "reassigned",
                    "occurred_at": reassigned.isoformat(),
                }
            )
            n += 2
        bodies.append(json.dumps({"events": events}, separators=(",", ":")).encode())
    return bodies


def csv_upload(total: int):
    import csv
    import resource
    import tempfile

    from portal.recycling import uploads as services

    prepare_database()
    import django

    django.setup()
    from django.core.files import File

    from portal.recycling.models import NumberEvent

    carrier = register_carrier()
    rng = random.Random(35000)
    start = datetime(2025, 6, 1, tzinfo=timezone(timedelta(hours=8)))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "monthly.csv"
        with open(path, "w", newline="", encoding="utf-8-sig") as out:
            writer = csv.writer(out)
            writer.writerow(["event_id", "phone_number", "type", "occurred_at"])
            for n in range(0, total, 2):
                phone = f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"
                cancelled = start + timedelta(minutes=rng.randrange(200_000))
                writer.writerow([f"b{n}", phone, "cancelled", cancelled.isoformat()])
                writer.writerow(
                    [f"b{n + 1}", phone, "reassigned", (cancelled + timedelta(days=rng.randrange(60, 200))).isoformat()]
                )
        size = path.stat().st_size
        with open(path, "rb") as f:
            upload = services.number_event_upload_create(
                carrier=carrier, uploaded_by=None, file=File(f, name="monthly.csv")
            )
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    while services.number_event_upload_process(upload_id=upload.pk, seconds=3600):
        pass
    elapsed = time.perf_counter() - started
    upload.refresh_from_db()
    peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"CSV upload of {total:,} rows ({size / 2**20:.0f} MB): {elapsed:.1f} s -> {upload.rows_read / elapsed:,.0f} rows/s; "
        f"accepted {upload.rows_accepted:,}, rejected {upload.rows_rejected}; peak memory {peak_before / 1024:.0f} MB before, "
        f"{peak_after / 1024:.0f} MB after reading the whole file"
    )
    assert upload.state == "completed" and upload.rows_accepted == NumberEvent.objects.count() == total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=4, help="requests in flight at once")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=0, help="default: a free one")
    parser.add_argument("--csv", action="store_true", help="through a CSV upload instead of the API")
    args = parser.parse_args()
    if args.csv:
        return csv_upload(args.events)

    if not args.port:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            args.port = probe.getsockname()[1]
    prepare_database()
    import django

    django.setup()
    import httpx
    import redis
    from django.conf import settings

    from portal.recycling.models import NumberEvent
    from registry import protocol

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    carrier = register_carrier()
    print(f"preparing {args.events:,} events in batches of {args.batch:,} ...", flush=True)
    bodies = batches(args.events, args.batch)

    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "portal.wsgi:application",
        "--bind",
        f"127.0.0.1:{args.port}",
        "--workers",
        str(args.web_workers),
        "--timeout",
        "120",
        "--log-level",
        "warning",
    ]
    web = subprocess.Popen(cmd, cwd=ROOT)
    url = f"http://127.0.0.1:{args.port}/api/v1/carrier/number-events"
    try:
        with httpx.Client(timeout=120) as client:
            for _ in range(100):
                try:
                    client.get(f"http://127.0.0.1:{args.port}/healthz")
                    break
                except httpx.TransportError:
                    time.sleep(0.2)

        local = threading.local()

        def send(body: bytes) -> dict:
            if not hasattr(local, "client"):
                local.client = httpx.Client(timeout=120)
            headers = {"Content-Type": "application/json", **protocol.sign(body, keys=SECRET, key_id=KEY_ID)}
            response = local.client.post(url, content=body, headers=headers)
            assert response.status_code == 200, (response.status_code, response.text[:300])
            return response.json()

        with ThreadPoolExecutor(args.clients) as pool:  # imports, and each worker's database connection
            list(pool.map(send, [json.dumps({"events": [], "warm_up": i}).encode() for i in range(2 * args.clients)]))
        pids = server_pids(web.pid, os.environ["DATABASE_URL"].rsplit("/", 1)[1])
        cpu_before, started = [cpu_seconds(p) for p in pids], time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            results = list(pool.map(send, bodies))
        elapsed = time.perf_counter() - started
        web_cpu, db_cpu = (cpu_seconds(p) - before for p, before in zip(pids, cpu_before))
        server_cpu = web_cpu + db_cpu

        accepted = sum(r["accepted"] for r in results)
        rejected = sum(len(r["rejected"]) for r in results)
        stored = NumberEvent.objects.filter(carrier=carrier).count()
        again = send(bodies[0])
        rate = args.events / elapsed
        print(
            f"{args.events:,} events in {len(bodies)} batches, {args.clients} clients, {args.web_workers} gunicorn workers: "
            f"{elapsed:.1f} s -> {rate:,.0f} events/s; target {TARGET:,}/s -> ratio {rate / TARGET:.2f}"
        )
        print(
            f"accepted {accepted:,}, rejected {rejected}, stored {stored:,}, freeze-period breaches "
            f"{sum(r['freeze_breaches'] for r in results):,}; first batch sent again: accepted {again['accepted']}, "
            f"duplicates {again['duplicates']:,}"
        )
        print(
            f"server CPU: gunicorn workers {web_cpu:.1f} + PostgreSQL backends {db_cpu:.1f} = {server_cpu:.1f} core-seconds -> "
            f"{args.events / server_cpu:,.0f} events per core-second; load average during the run "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        assert accepted == stored == args.events and rejected == 0 and again["accepted"] == 0
    finally:
        web.terminate()
        web.wait()


if __name__ == "__main__":
    main()
