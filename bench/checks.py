"""Recycling checks benchmark (issue: Recycled numbers, section 5, "Checks").

1. CAMARA single checks (`POST /number-recycling/v0.2/check`, a bearer token from `/oauth/token`) a
   second under load, with gunicorn's 2 workers (target 1,000/s).
2. The 1,000-number bulk check (`POST /api/v1/platform/number-checks`, signed like protocol v2): the
   time of one call (target under 100 ms).

A carrier first reports 200,000 numbers' histories (cancelled, most re-assigned), so answers come from
a table of realistic size; a tenth of the asked numbers are in no member carrier's segments.

    .venv/bin/python bench/checks.py [--seconds 15] [--concurrency 16] [--bulk-calls 30]

Uses its own database (portal_bench, or DATABASE_URL) and Redis database 13, both emptied first.
"""

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone

from common import ROOT, prepare_database  # noqa: E402
from ingest import cpu_seconds, register_carrier, server_pids  # noqa: E402  (this also configures portal_bench, Redis 13)

from portal.recycling import services

os.environ["LOG_LEVEL"] = "ERROR"  # a 422 is an answer here, not a warning worth a log line
# one client asks every check here: its rate limits are still counted (one Redis round trip a call), never reached
os.environ["NUMBER_CHECKS_PER_SECOND"] = os.environ["NUMBER_CHECK_BULK_NUMBERS_PER_MINUTE"] = "100000000"

SINGLE_TARGET, BULK_TARGET_MS = 1000, 100
MEMBER_KEY_ID, MEMBER_SECRET = (
    "bench_member",
    "whsec_YmVuY2gtbWVtYmVyLXNpZ25pbmctc2VjcmV0LTAxMjM=",
)  # whsec_ + base64 of 32 bytes


def load_histories(carrier, numbers: int) -> list[str]:

    rng = random.Random(1000)
    tz = timezone(timedelta(hours=8))
    phones, events = [], []
    for i in range(numbers):
        phone = f"{rng.choice(('138', '139', '150'))}{rng.randrange(10**8):08d}"  # the bench carrier's segments
        phones.append(phone)
        cancelled = datetime(2025, 1, 1, tzinfo=tz) + timedelta(minutes=rng.randrange(400_000))
        events.append(
            {"event_id": f"c{i}", "phone_number": phone, "type": "cancelled", "occurred_at": cancelled.isoformat()}
        )
        if rng.random() < 0.8:
            events.append(
                {
                    "event_id": f"r{i}",
                    "phone_number": phone,
                    "type": "reassigned",
                    "occurred_at": (cancelled + timedelta(days=rng.randrange(90, 200))).isoformat(),
                }
            )
        if len(events) >= 9998:
            services.number_events_ingest(carrier=carrier, events=events)
            events = []
    services.number_events_ingest(carrier=carrier, events=events)
    return phones


def register_member():
    from registry import services as registry_services
    from registry.models import Integration, MemberApp, Organisation
    from registry.validators import uscc_check_character

    prefix = "91110000MA0BENCH2"
    org = Organisation.objects.create(
        kind="internet_platform",
        legal_name="压测平台",
        credit_code=prefix + uscc_check_character(prefix),
        contact_name="x",
        contact_email="y@example.com",
        status="active",
    )
    app = MemberApp.objects.create(organisation=org, name="压测应用", category="social", go_live_date="2026-01-01")
    integration = Integration.objects.create(app=app, base_url="http://127.0.0.1:9/none")
    registry_services.integration_key_issue(
        integration=integration, by=None, key_id=MEMBER_KEY_ID, secret=MEMBER_SECRET
    )


def asked_numbers(phones: list[str], count: int) -> list[tuple[str, str]]:
    """(E.164 number, date) pairs: nine in ten reported numbers, one in ten from no member carrier."""
    rng = random.Random(7)
    asked = []
    for _ in range(count):
        phone = rng.choice(phones) if rng.random() < 0.9 else f"17{rng.randrange(10**9):09d}"
        asked.append(("+86" + phone, (date(2025, 1, 1) + timedelta(days=rng.randrange(600))).isoformat()))
    return asked


async def single_checks(port: int, token: str, asked, seconds: float, concurrency: int) -> tuple[int, dict, float]:
    """Keeps `concurrency` checks in flight for `seconds`. A bare asyncio HTTP/1.1 client with the
    requests built beforehand: the load generator shares the two cores with the server, so it must
    cost little (an aiohttp client took 0.9 ms of CPU a request, this one about 0.3)."""
    requests = []
    for phone, day in asked:
        body = json.dumps({"phoneNumber": phone, "specifiedDate": day}).encode()
        requests.append(
            b"POST /number-recycling/v0.2/check HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\nAuthorization: Bearer "
            + token.encode()
            + b"\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
    counts: dict[int, int] = {}
    stop, done = time.perf_counter() + seconds, 0

    async def client(n: int):
        nonlocal done
        i = n
        while time.perf_counter() < stop:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(requests[i % len(requests)])
            answer = await reader.read()  # gunicorn's sync workers close the connection after each answer
            writer.close()
            status = int(answer[9:12])
            counts[status] = counts.get(status, 0) + 1
            done += 1
            i += concurrency

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(concurrency)))
    return done, counts, time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=16, help="single checks in flight at once")
    parser.add_argument("--bulk-calls", type=int, default=30)
    parser.add_argument("--numbers", type=int, default=200_000, help="numbers with a reported history")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--gunicorn", default="", help="more gunicorn options, e.g. '--worker-tmp-dir /dev/shm'")
    args = parser.parse_args()

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    prepare_database()
    import django

    django.setup()
    import httpx
    import redis
    from django.conf import settings

    from registry import protocol

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    carrier = register_carrier()
    print(f"loading {args.numbers:,} numbers' histories ...", flush=True)
    phones = load_histories(carrier, args.numbers)
    register_member()
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.db import connection; connection.cursor().execute('ANALYZE')",
        ],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )

    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "portal.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.web_workers),
            "--timeout",
            "60",
            "--log-level",
            "warning",
            *args.gunicorn.split(),
        ],
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            for _ in range(100):
                try:
                    client.get("/healthz")
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            token = client.post(
                "/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": MEMBER_KEY_ID,
                    "client_secret": MEMBER_SECRET,
                    "scope": "number-recycling:check",
                },
            ).json()["access_token"]

            # 1. Single CAMARA checks under load
            asked = asked_numbers(phones, 20_000)
            asyncio.run(single_checks(port, token, asked, 2, args.concurrency))  # warm up
            pids = server_pids(web.pid, os.environ["DATABASE_URL"].rsplit("/", 1)[1])
            before, client_before = [cpu_seconds(p) for p in pids], time.process_time()
            done, counts, elapsed = asyncio.run(single_checks(port, token, asked, args.seconds, args.concurrency))
            web_cpu, db_cpu = (cpu_seconds(p) - b for p, b in zip(pids, before))
            client_cpu = time.process_time() - client_before
            rate = done / elapsed
            print(
                f"single checks: {done:,} in {elapsed:.1f} s with {args.concurrency} in flight, {args.web_workers} gunicorn workers -> "
                f"{rate:,.0f}/s; target {SINGLE_TARGET:,}/s -> ratio {rate / SINGLE_TARGET:.2f}  (answers by status: {dict(sorted(counts.items()))})"
            )
            print(
                f"  CPU a check: gunicorn {web_cpu / done * 1000:.2f} ms + PostgreSQL {db_cpu / done * 1000:.2f} ms "
                f"(+ the load generator {client_cpu / done * 1000:.2f} ms) -> the server alone would answer "
                f"{done / (web_cpu + db_cpu) * os.cpu_count():,.0f}/s on {os.cpu_count()} free cores; "
                f"load average {os.getloadavg()[0]:.1f}"
            )
            assert set(counts) <= {200, 422}, counts

            # 2. The 1,000-number bulk check, one call at a time
            times, answers = [], {}
            for call in range(args.bulk_calls + 3):
                body = json.dumps(
                    {"checks": [{"phone_number": p, "date": d} for p, d in asked_numbers(phones[call:], 1000)]}
                ).encode()
                headers = {
                    "Content-Type": "application/json",
                    **protocol.sign(body, keys=MEMBER_SECRET, key_id=MEMBER_KEY_ID),
                }
                started = time.perf_counter()
                response = client.post("/api/v1/platform/number-checks", content=body, headers=headers)
                took = time.perf_counter() - started
                assert response.status_code == 200, response.text[:300]
                if call >= 3:  # warm-up calls
                    times.append(took)
                    for result in response.json()["results"]:
                        answers[result["answer"]] = answers.get(result["answer"], 0) + 1
            median, p90 = statistics.median(times) * 1000, sorted(times)[int(len(times) * 0.9) - 1] * 1000
            print(
                f"bulk check of 1,000 numbers: median {median:.0f} ms, p90 {p90:.0f} ms over {len(times)} calls; "
                f"target < {BULK_TARGET_MS} ms -> ratio {median / BULK_TARGET_MS:.2f}  (answers: {answers})"
            )
    finally:
        web.terminate()
        web.wait()


if __name__ == "__main__":
    main()
