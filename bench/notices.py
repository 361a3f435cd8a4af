"""Notices benchmark (issue 4, section 5: "Notices").

Carriers' events arrive in batches of 10,000 (through `number_events_ingest`, what the carrier API
calls); 100 simulated member apps are subscribed to every event type. Prints the time from the last
batch arriving to every app having every number (counted by the simulator after verifying each
notice's signature), against the 5-minute target, and the ratio.

Runs against real PostgreSQL, Redis, real Celery workers and the simulator:
    .venv/bin/python bench/notices.py [--events 1000000] [--apps 100] [--concurrency 3]
Uses its own database (portal_notices_bench) and Redis database 11; both are emptied first.
"""

import argparse
import os
import time
from datetime import timedelta

import httpx
from common import configure, prepare_database, start  # noqa: E402

configure(database="portal_notices_bench", redis_db=11)
TARGET_SECONDS = 300
BATCH = 10_000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--apps", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=3, help="worker processes sending notices")
    parser.add_argument("--port", type=int, default=8931)
    args = parser.parse_args()

    prepare_database()
    import django

    django.setup()
    import redis
    from django.conf import settings
    from django.utils import timezone

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    from portal.celery import app as celery_app
    from portal.devtools.demo import demo_webhook_secret
    from portal.notices.models import NoticeDelivery
    from portal.notices.services import notice_subscription_save
    from portal.recycling.models import NumberEvent
    from portal.recycling.services import number_events_ingest
    from registry import protocol
    from registry.models import MemberApp, Organisation
    from registry.validators import uscc_check_character

    def organisation(prefix, kind, name, **extra):
        code = prefix + uscc_check_character(prefix)
        return Organisation.objects.create(
            kind=kind,
            legal_name=name,
            credit_code=code,
            contact_name="x",
            contact_email="x@example.com",
            status="active",
            **extra,
        )

    carrier = organisation(
        "91110000MA0BENCHC", "basic_carrier", "压测运营商", number_segments="134 135 136 137 138 139"
    )
    sim_url = f"http://127.0.0.1:{args.port}"
    for i in range(1, args.apps + 1):
        if (i - 1) % 10 == 0:
            member = organisation(f"91110000MA0BEN{i:03d}", "internet_platform", f"压测平台{i:03d}")
        slug = f"app{i:02d}"
        app = MemberApp.objects.create(
            organisation=member, name=f"压测应用{slug}", category="social", go_live_date="2026-01-01"
        )
        notice_subscription_save(
            app=app,
            webhook_url=f"{sim_url}/{slug}{protocol.NUMBER_NOTICES_PATH}",
            event_types=NumberEvent.Type.values,
            secret=demo_webhook_secret(slug),
        )

    sim = start(["manage.py", "run_simulator", "--port", str(args.port), "--apps", str(args.apps)])
    worker = start(
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
            "bench-notices@%h",
            "--without-gossip",
            "--without-mingle",
        ]
    )
    try:
        deadline = time.time() + 30
        while not celery_app.control.ping(timeout=0.5) and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(1)

        occurred = (timezone.now() - timedelta(days=3)).isoformat()
        kinds = ("cancelled", "reassigned")
        started = time.perf_counter()
        for offset in range(0, args.events, BATCH):
            batch = [
                {
                    "event_id": f"b{offset + i}",
                    "phone_number": f"+86{134 + (offset + i) % 6}{offset + i:08d}",
                    "type": kinds[(offset + i) % 2],
                    "occurred_at": occurred,
                }
                for i in range(min(BATCH, args.events - offset))
            ]
            number_events_ingest(carrier=carrier, events=batch)
        last_batch = time.perf_counter()
        last_batch_wall = time.time()
        print(
            f"{args.events:,} events in {args.events // BATCH or 1} batches arrived in {last_batch - started:.1f} s",
            flush=True,
        )

        expected = args.events * args.apps
        poll = httpx.Client(timeout=10)
        while True:
            inbox = poll.get(f"{sim_url}/_control").json()
            if inbox["numbers"] >= expected:
                break
            if os.environ.get("BENCH_DEBUG"):
                print(
                    f"  {time.perf_counter() - last_batch:6.1f} s: {inbox['numbers']:,} of {expected:,} numbers, "
                    f"{NoticeDelivery.objects.filter(state='pending').count()} notices pending",
                    flush=True,
                )
            time.sleep(1)
        done = inbox["last_at"] - last_batch_wall
        assert inbox["refused"] == 0, "a notice failed its signature check"
        notices = NoticeDelivery.objects.count()
        print(
            f"{args.apps} apps notified of {args.events:,} events each ({expected:,} numbers in {notices:,} notices, "
            f"{inbox['repeats']} repeats): {done:.1f} s after the last batch arrived "
            f"(target {TARGET_SECONDS} s), {done / TARGET_SECONDS:.2f} of the target; "
            f"{expected / max(0.001, inbox['last_at'] - (last_batch_wall - (last_batch - started))):,.0f} numbers/s end to end",
            flush=True,
        )
        print(
            f"RESULT notices_after_last_batch_s={done:.1f} target_s={TARGET_SECONDS} ratio={done / TARGET_SECONDS:.2f}"
        )
    finally:
        sim.terminate()
        worker.terminate()
        sim.wait()
        worker.wait()


if __name__ == "__main__":
    main()
