"""Carrier renewal benchmark (issue 16, "bench/"): a carrier renews 1,000 numbers, one API request each
(POST /api/v1/carrier/renewals, signed as its integration), against 16 simulated member apps that take
unbind requests. Prints the requests a second the portal accepted, and the time from the first request
until every unbind request was answered, beside the deadline the apps have (5 working days).

Runs against real PostgreSQL, Redis, gunicorn, Celery workers and the simulator:
    .venv/bin/python bench/carrier_renewal.py [--numbers 1000] [--apps 16] [--in-flight 8] [--concurrency 4]
Uses its own database (portal_carrier_bench) and Redis database 4; both are emptied first. The
per-carrier rate limit is raised for the run (CARRIER_ACTIONS_PER_MINUTE), so the figure is what the
portal accepts, not the limit.
"""

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

from common import ROOT, configure, prepare_database, start  # noqa: E402

configure(database="portal_carrier_bench", redis_db=4, CARRIER_ACTIONS_PER_MINUTE="1000000")
DEADLINE_WORKING_DAYS = 5


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def register(sim_url: str, apps: int):
    """The carrier (segment 139) with its app's key, and `apps` member apps with unbinding at the simulator."""
    from portal.devtools.demo import demo_key_secret
    from registry import services as registry_services
    from registry.models import Integration, MemberApp, Organisation
    from registry.validators import uscc_check_character

    def organisation(prefix, kind, name, **extra):
        return Organisation.objects.create(
            kind=kind,
            legal_name=name,
            credit_code=prefix + uscc_check_character(prefix),
            contact_name="x",
            contact_email="x@example.com",
            status="active",
            **extra,
        )

    carrier = organisation("91110000MA0BENCCR", "basic_carrier", "压测运营商", number_segments="139")
    carrier_app = MemberApp.objects.create(
        organisation=carrier, name="压测营业厅", category="telecom", supports_lookup=False, go_live_date="2026-01-01"
    )
    integration = Integration.objects.create(app=carrier_app, base_url=f"{sim_url}/carrier")
    registry_services.integration_key_issue(
        integration=integration, by=None, key_id="bench_carrier", secret=demo_key_secret("carrier")
    )
    for i in range(1, apps + 1):
        if (i - 1) % 4 == 0:
            member = organisation(f"91110000MA0BCR{i:03d}", "internet_platform", f"压测平台{i:03d}")
        slug = f"app{i:02d}"
        app = MemberApp.objects.create(
            organisation=member,
            name=f"压测应用{slug}",
            category="social",
            supports_unbind=True,
            go_live_date="2026-01-01",
        )
        integration = Integration.objects.create(app=app, base_url=f"{sim_url}/{slug}", max_requests_per_second=1000)
        registry_services.integration_key_issue(
            integration=integration, by=None, key_id=f"demo_{slug}", secret=demo_key_secret(slug)
        )
    return demo_key_secret("carrier")


async def renew_all(base: str, secret: str, numbers: list[str], in_flight: int) -> tuple[dict, float]:
    """One signed request per number, `in_flight` at a time; answers counted by status."""
    import httpx

    from registry import protocol

    counts: dict[int, int] = {}
    queue = list(numbers)
    since = (datetime.now(timezone.utc) - timedelta(days=30)).date().isoformat()

    async def one(client):
        while queue:
            number = queue.pop()
            body = json.dumps(
                {
                    "phone_number": "+86" + number,
                    "holder_since": since,
                    "attestation": {
                        "channel": "app",
                        "reference": f"session:{number[-6:]}",
                        "verified_at": datetime.now(timezone.utc).isoformat(),
                    },
                }
            ).encode()
            headers = {"Content-Type": "application/json", **protocol.sign(body, keys=secret, key_id="bench_carrier")}
            response = await client.post("/api/v1/carrier/renewals", content=body, headers=headers)
            counts[response.status_code] = counts.get(response.status_code, 0) + 1

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        await asyncio.gather(*(one(client) for _ in range(in_flight)))
    return counts, time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=1000)
    parser.add_argument("--apps", type=int, default=16)
    parser.add_argument("--in-flight", type=int, default=8, help="renewal requests the carrier has open at once")
    parser.add_argument("--concurrency", type=int, default=4, help="worker processes delivering unbind requests")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--latency-ms", type=int, default=50, help="each simulated app's answer time")
    parser.add_argument("--wait-seconds", type=int, default=3600, help="how long to wait for the apps' answers")
    args = parser.parse_args()

    prepare_database()
    import django

    django.setup()
    import httpx
    import redis
    from django.conf import settings
    from django.db.models import Max, Min

    from portal.carrier.models import CarrierAction
    from portal.unbinding.models import UnbindRequest

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    sim_port, web_port = free_port(), free_port()
    sim_url, base = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{web_port}"
    secret = register(sim_url, args.apps)
    start(
        [
            "manage.py",
            "run_simulator",
            "--port",
            str(sim_port),
            "--apps",
            str(args.apps),
            "--latency-ms",
            str(args.latency_ms),
        ]
    )
    start(
        [
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "-l",
            "WARNING",
            "--concurrency",
            str(args.concurrency),
            "-n",
            "bench-carrier@%h",
            "--without-gossip",
            "--without-mingle",
        ]
    )
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "portal.wsgi:application",
            "--bind",
            f"127.0.0.1:{web_port}",
            "--workers",
            str(args.web_workers),
            "--timeout",
            "60",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
    )
    try:
        for _ in range(300):
            try:
                httpx.get(base + "/healthz", timeout=2)
                httpx.get(sim_url, timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        numbers = [f"1390{i:07d}" for i in range(args.numbers)]
        load_before = os.getloadavg()[0]
        first_request = datetime.now(timezone.utc)
        counts, elapsed = asyncio.run(renew_all(base, secret, numbers, args.in_flight))
        accepted = counts.get(201, 0)
        print(
            f"renewal requests: {accepted:,} accepted of {len(numbers):,} in {elapsed:.1f} s -> {accepted / elapsed:,.1f}/s "
            f"with {args.in_flight} in flight, {args.web_workers} gunicorn workers  (answers by status: {counts})"
        )
        expected = accepted * args.apps
        deadline_wait = time.time() + args.wait_seconds
        while time.time() < deadline_wait:
            answered = UnbindRequest.objects.exclude(state__in=UnbindRequest.OPEN).count()
            if answered >= expected:
                break
            time.sleep(1)
        span = UnbindRequest.objects.aggregate(
            first=Min("created_at"), last=Max("answered_at"), deadline=Min("deadline_at")
        )
        answered = UnbindRequest.objects.exclude(state__in=UnbindRequest.OPEN).count()
        took = (span["last"] - first_request).total_seconds() if span["last"] else float("nan")
        allowed = (span["deadline"] - span["first"]).total_seconds() if span["deadline"] else float("nan")
        completed = CarrierAction.objects.filter(kind="renewal", state="completed").count()
        print(
            f"unbind requests answered: {answered:,} of {expected:,} ({args.apps} apps x {accepted:,} numbers); "
            f"every one answered {took:,.0f} s after the first request"
        )
        print(
            f"  deadline: {DEADLINE_WORKING_DAYS} working days = {allowed:,.0f} s for the earliest request -> "
            f"{took / allowed:.5f} of it; renewals completed {completed:,}; load average {load_before:.1f} before, "
            f"{os.getloadavg()[0]:.1f} after on {os.cpu_count()} cores"
        )
    finally:
        web.terminate()
        web.wait()


if __name__ == "__main__":
    main()
