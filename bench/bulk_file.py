"""Bulk check file benchmark (issue 14, section 3): a 250,000-row `number,date` file uploaded through the API
(`POST /api/v1/platform/number-check-files`, text/csv, a bearer token from /oauth/token), checked by one
real Celery worker (solo pool: the task runs in the process whose memory is read), time from upload to done
against the target of 15 s, and the worker's peak memory (VmHWM) after a 25,000-row file and after the
250,000-row one: flat memory means the second is no higher than the first, whatever the file's size.

A carrier first reports 200,000 numbers' histories (a cancellation each, four in five re-assigned later:
about 360,000 events, as bench/checks.py); nine in ten asked numbers have a history, one in ten is in no
member carrier's segments, one row in a thousand is bad. The floor is the bare set-based query over the
same rows (portal.bulkcheck.selectors.answers_for_checks, 5,000 a statement, numbers already parsed).

    .venv/bin/python bench/bulk_file.py [--rows 250000] [--numbers 200000]

Uses its own database (portal_bench_bulkfile, or DATABASE_URL) and Redis database 14, both emptied first.
"""

import argparse
import os
import random
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

from common import configure, prepare_database, start  # noqa: E402

configure(database="portal_bench_bulkfile", redis_db=14, CONN_MAX_AGE="60")
os.environ["LOG_LEVEL"] = "ERROR"

from checks import load_histories  # noqa: E402
from ingest import cpu_seconds, register_carrier  # noqa: E402

TARGET_SECONDS = 15


def member_token() -> str:
    from registry import services as registry_services
    from registry.models import Integration, MemberApp, Organisation
    from registry.validators import uscc_check_character

    prefix = "91110000MA0BENCH3"
    org = Organisation.objects.create(
        kind="internet_platform",
        legal_name="压测银行",
        credit_code=prefix + uscc_check_character(prefix),
        contact_name="x",
        contact_email="z@example.com",
        status="active",
    )
    app = MemberApp.objects.create(organisation=org, name="压测手机银行", category="banking", go_live_date="2026-01-01")
    integration = Integration.objects.create(app=app, base_url="http://127.0.0.1:9/none")
    key, secret = registry_services.integration_key_issue(integration=integration, by=None)
    token, _record = registry_services.access_token_issue(
        client_id=key.key_id, client_secret=secret, scope="number-recycling:check"
    )
    return token


def customer_list(phones: list[str], rows: int, seed: int) -> bytes:
    rng = random.Random(seed)
    lines = ["number,date"]
    for i in range(rows):
        if i % 1000 == 999:
            lines.append(f"{rng.randrange(10**5)},2025-13-01")  # a bad row
            continue
        phone = rng.choice(phones) if rng.random() < 0.9 else f"17{rng.randrange(10**9):09d}"
        lines.append(f"+86{phone},{date(2025, 1, 1) + timedelta(days=rng.randrange(600))}")
    return ("\n".join(lines) + "\n").encode()


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def backends() -> list[int]:
    import psycopg

    database = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        return [row[0] for row in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [database])]


def check_file(client, token: str, body: bytes) -> tuple[float, float, object]:
    """Upload, then poll the row until done: (seconds upload to done, upload call's Python peak MiB, the row)."""
    from portal.models import BulkCheckFile

    tracemalloc.start()
    started = time.perf_counter()
    response = client.generic(
        "POST",
        "/api/v1/platform/number-check-files",
        body,
        content_type="text/csv",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    upload_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    assert response.status_code == 202, response.content
    row = BulkCheckFile.objects.get(public_id=response.json()["id"])
    deadline = time.time() + 600
    while not row.is_done and time.time() < deadline:
        time.sleep(0.05)
        row.refresh_from_db()
    assert row.state == "completed", (row.state, row.error)
    return time.perf_counter() - started, upload_peak, row


def audit_seconds(row) -> float:
    """How long after the check its audit trail (written apart, as the API's) is complete."""
    started = time.perf_counter()
    while row.audit_bytes < row.result_bytes and time.perf_counter() - started < 600:
        time.sleep(0.1)
        row.refresh_from_db()
    return time.perf_counter() - started


def floor_seconds(body: bytes) -> float:
    """The bare set-based query over the same rows, 5,000 a statement, the numbers parsed beforehand."""
    from portal.bulkcheck.selectors import answers_for_checks

    checks = []
    for line in body.decode().splitlines()[1:]:
        number, day = line.split(",")
        if number.startswith("+86") and len(number) == 14:
            checks.append((number[3:], date.fromisoformat(day)))
    started = time.perf_counter()
    for offset in range(0, len(checks), 5000):
        answers_for_checks(checks[offset : offset + 5000])
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=250_000)
    parser.add_argument("--numbers", type=int, default=200_000, help="numbers with a reported history")
    args = parser.parse_args()

    prepare_database()
    import django

    django.setup()
    from django.test import Client

    from portal.celery import app as celery_app
    from portal.core.ratelimit import redis_client
    from portal.recycling.models import NumberEvent

    redis_client().flushdb()
    seeding = time.perf_counter()
    phones = load_histories(register_carrier(), args.numbers)
    print(
        f"history: {NumberEvent.objects.count():,} events of {args.numbers:,} numbers,"
        f" seeded in {time.perf_counter() - seeding:.0f} s"
    )
    token = member_token()
    small, big = customer_list(phones, args.rows // 10, 1), customer_list(phones, args.rows, 2)

    worker = start(["-m", "celery", "-A", "portal", "worker", "-l", "ERROR", "--pool", "solo",
                    "-n", "bench-bulkfile@%h", "--without-gossip", "--without-mingle"])  # fmt: skip
    deadline = time.time() + 90
    while not celery_app.control.ping(timeout=0.5) and time.time() < deadline:
        time.sleep(0.2)
    client = Client()
    rss_idle = peak_rss_kib(worker.pid)
    small_seconds, _peak, small_row = check_file(client, token, small)
    audit_seconds(small_row)
    rss_small = peak_rss_kib(worker.pid)
    before, web_before = {pid: cpu_seconds([pid]) for pid in [worker.pid, *backends()]}, time.process_time()
    seconds, upload_peak, row = check_file(client, token, big)
    # the web side (the upload, then polling) runs in this process; backends opened meanwhile count too
    cpu = (
        time.process_time()
        - web_before
        + sum(max(0.0, cpu_seconds([pid]) - before.get(pid, 0)) for pid in {worker.pid, *backends(), *before})
    )
    audit = audit_seconds(row)
    rss_big = peak_rss_kib(worker.pid)

    started = time.perf_counter()
    response = client.get(
        f"/api/v1/platform/number-check-files/{row.public_id}/result", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    result_rows = sum(chunk.count(b"\n") for chunk in response.streaming_content) - 1
    download = time.perf_counter() - started
    report(args.rows, len(big), row, seconds=seconds, small_seconds=small_seconds, cpu=cpu, audit=audit,
           floor=floor_seconds(big), rss=(rss_idle, rss_small, rss_big), upload_peak=upload_peak,
           download=(result_rows, download))  # fmt: skip


def report(rows, size, row, *, seconds, small_seconds, cpu, audit, floor, rss, upload_peak, download):
    rss_idle, rss_small, rss_big = rss
    print(
        f"file: {size / 2**20:.1f} MiB, {rows:,} rows: yes {row.rows_yes:,}, no {row.rows_no:,}, "
        f"no_data {row.rows_no_data:,}, bad {row.rows_invalid:,}"
    )
    print(
        f"upload to done: {seconds:.1f} s ({rows / seconds:,.0f} rows/s; target under {TARGET_SECONDS} s: "
        f"{'met' if seconds < TARGET_SECONDS else 'NOT met'}); a {rows // 10:,}-row file: {small_seconds:.1f} s"
    )
    print(
        f"CPU of the web side, the worker and the PostgreSQL backends, upload to done: {cpu:.1f} s"
        f" (the wall time on idle cores, about); the audit trail of the {rows:,} checks,"
        f" written apart: complete {audit:.1f} s later"
    )
    print(f"floor (the bare set-based query over the same rows): {floor:.1f} s; upload to done: {seconds / floor:.1f}x")
    print(
        f"worker peak RSS: {rss_idle / 1024:.0f} MiB idle, {rss_small / 1024:.0f} MiB after {rows // 10:,} rows, "
        f"{rss_big / 1024:.0f} MiB after {rows:,} rows (+{(rss_big - rss_small) / 1024:.0f} MiB: flat)"
    )
    print(f"upload request's Python peak (tracemalloc, the body streamed to disk): {upload_peak:.1f} MiB")
    print(f"result download: {download[0]:,} rows in {download[1]:.1f} s")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
