"""Soak benchmark (issue 17, section 3): load held for minutes, and what happens past it.

Starts the whole portal on loopback as production runs it (gunicorn, a Celery worker, Celery beat, the
platform simulator playing 16 member apps with latency and a few errors) on its own PostgreSQL database
and Redis database, then sends it mixed traffic with Locust (bench/soak_traffic.py): citizens asking for
codes and looking up (API and pages), a carrier reporting number events, a member's CAMARA and bulk
checks, a member's staff signed in with the TOTP, visitors on the public pages.

1. Steady (`--minutes`, default 10): requests a second, p50/p95/p99 per kind, answers that were errors
   by status, how long jobs waited for a worker (lookup calls, SMS) and the broker's queue depth.
2. Overload (`--overload-minutes`, default 2; 0 skips it): lookups started at twice the rate the steady
   phase completed them, without waiting. The portal must shed them (503 "busy, try again", Retry-After)
   once LOOKUPS_IN_FLIGHT_MAX (`--in-flight-max`) lookups are running, so the queue depth and the wait
   of a job stay bounded.
Then, once everything settled: rows lost (every answer that promised a row has one: codes, lookups, each
lookup completed, events, check audits; must be 0), and each process's memory at start and end.

    .venv/bin/python bench/soak.py [--minutes 10] [--overload-minutes 2] [--in-flight-max 10]

Uses its own database (portal_bench, or DATABASE_URL) and Redis database 13 (or REDIS_URL), both emptied
first; BENCH_PORT moves the web and simulator ports (default 8931, 8932).
"""

import argparse
import json
import math
import os
import statistics
import sys
import threading
import time
from datetime import datetime, timezone

from common import ROOT, configure, prepare_database, start  # noqa: E402

configure(
    database="portal_bench",
    redis_db=13,
    CAPTCHA_TEST_MODE="true",
    SMS_CODES_PER_HOUR="100000000",
    LOOKUP_CODES_PER_CLIENT_PER_DAY="100000000",
    LOOKUP_CODES_PER_NUMBER_AND_CLIENT_PER_DAY="100000000",
)
from checks import MEMBER_KEY_ID, MEMBER_SECRET, register_member  # noqa: E402  (no rate limit reached by one client)
from ingest import KEY_ID as CARRIER_KEY_ID  # noqa: E402
from ingest import SECRET as CARRIER_SECRET
from ingest import register_carrier

os.environ["LOG_LEVEL"] = "ERROR"  # a shed lookup is a warning each; the counts below say it
APPS, STAFF_PASSWORD = 16, "soak-correct-horse-battery"
STEADY_USERS = {"ApiCitizen": 10, "PageCitizen": 2, "Carrier": 1, "Checker": 2, "Staff": 2, "Visitor": 1}
OUT = ROOT / "var" / "soak"


def register_lookup_members(port: int) -> list[int]:
    """16 member apps answered by the simulator, and two of the member's staff with a TOTP each."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    from portal.devtools.demo import demo_key_secret
    from registry import services as registry_services
    from registry.models import Integration, MemberApp, Organisation, StaffUser
    from registry.validators import uscc_check_character

    MemberApp.objects.update(supports_lookup=False)  # the checking member's app (checks.py) is asked no lookup
    prefix = "91110000MA0BENCH3"
    org = Organisation.objects.create(
        kind="internet_platform",
        legal_name="浸泡测试平台",
        credit_code=prefix + uscc_check_character(prefix),
        contact_name="x",
        contact_email="soak@example.com",
        status="active",
    )
    app_ids = []
    for i in range(1, APPS + 1):
        slug = f"app{i:02d}"
        app = MemberApp.objects.create(
            organisation=org, name=f"浸泡应用{i:02d}", category="social", go_live_date="2026-01-01"
        )
        integration = Integration.objects.create(
            app=app, base_url=f"http://127.0.0.1:{port}/{slug}", timeout_ms=3000, max_requests_per_second=10000
        )
        registry_services.integration_key_issue(
            integration=integration, by=None, key_id=f"soak_{slug}", secret=demo_key_secret(slug)
        )
        app_ids.append(app.pk)
    staff = []
    for n in (1, 2):
        user = StaffUser.objects.create_user(
            f"soak-staff{n}@example.com",
            STAFF_PASSWORD,
            full_name="浸泡员工",
            role=StaffUser.Role.PLATFORM_STAFF,
            organisation=org,
        )
        secret = generate_totp_secret()
        TOTP.activate(user, secret)
        staff.append({"email": user.email, "password": STAFF_PASSWORD, "totp": secret})
    return app_ids, staff


def wait_for(check, what: str, timeout: float = 90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if check():
                return
        except Exception:  # not up yet
            pass
        time.sleep(0.5)
    raise SystemExit(f"{what} did not come up in {timeout:.0f} s")


class Processes:
    """The portal's processes, by role, and their memory (RSS of each, children included by role)."""

    def __init__(self, roles: dict[str, int]):
        self.roles = roles

    def rss_mb(self) -> dict[str, list[float]]:
        import psutil

        memory = {}
        for role, pid in self.roles.items():
            main = psutil.Process(pid)
            memory[role] = [p.memory_info().rss / 2**20 for p in [main, *main.children(recursive=True)]]
        return memory


class Sampler(threading.Thread):
    """Every second: the broker's queue depth (messages waiting for a worker) and the lookups in flight."""

    def __init__(self):
        super().__init__(daemon=True)
        import redis
        from django.conf import settings

        self.broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        self.samples: list[tuple[float, int, int]] = []
        self.stopping = threading.Event()

    def run(self):
        from django.db import connection

        from portal.lookup import admission

        while not self.stopping.wait(1):
            self.samples.append((time.time(), self.broker.llen("celery"), admission.lookups_in_flight()))
        connection.close()

    def between(self, t0: float, t1: float) -> tuple[list[int], list[int]]:
        rows = [(q, f) for t, q, f in self.samples if t0 <= t <= t1]
        return [q for q, _f in rows] or [0], [f for _q, f in rows] or [0]


def run_locust(phase: str, base: str, users: dict[str, int], seconds: int, config: dict) -> dict:
    """One Locust run, headless; returns what it counted and timed (SOAK_CONFIG's `out`) and how long it ran."""
    import subprocess

    out = OUT / f"{phase}.json"
    env = os.environ | {"SOAK_CONFIG": json.dumps(config | {"out": str(out)}), "SOAK_USERS": json.dumps(users)}
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(ROOT / "bench" / "soak_traffic.py"),
        "--headless",
        "--host",
        base,
        "-u",
        str(sum(users.values())),
        "-r",
        str(sum(users.values())),
        "-t",
        f"{seconds}s",
        "--stop-timeout",
        "60",
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--exit-code-on-error",
        "0",
        *users,
    ]
    started = time.time()
    with open(OUT / f"{phase}.log", "w") as log:
        subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    return {**json.loads(out.read_text()), "seconds": time.time() - started}


def print_phase(title: str, result: dict, sampler: Sampler, t0: float, t1: float):
    print(f"\n== {title}: {t1 - t0:.0f} s; load average {os.getloadavg()[0]:.1f} ==")
    print(f"{'kind':24} {'requests':>9} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}  answers by status")
    for name, times in sorted(result["times"].items(), key=lambda item: item[0] == "(all)"):
        statuses = result["statuses"][name] if name != "(all)" else _sum_statuses(result["statuses"])
        shown = ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items()))
        print(
            f"{name[:24]:24} {times['count']:9d} {times['count'] / result['seconds']:7.1f} "
            f"{times['p50']:7.0f} {times['p95']:7.0f} {times['p99']:7.0f}  {shown}"
        )
    errors = {s: n for s, n in _sum_statuses(result["statuses"]).items() if not s.startswith(("2", "3"))}
    print(f"errors by status: {errors or 'none'}")
    depth, in_flight = sampler.between(t0, t1)
    print(
        f"broker queue depth: max {max(depth)}, mean {statistics.mean(depth):.1f}; "
        f"lookups in flight: max {max(in_flight)}, mean {statistics.mean(in_flight):.1f}"
    )
    for what, waits in job_waits(t0, t1).items():
        if waits:
            waits.sort()
            print(
                f"{what}: p50 {waits[len(waits) // 2]:.2f} s, p95 {waits[int(len(waits) * 0.95)]:.2f} s, "
                f"max {waits[-1]:.2f} s ({len(waits)} jobs)"
            )


def _sum_statuses(by_kind: dict) -> dict[str, int]:
    total: dict[str, int] = {}
    for statuses in by_kind.values():
        for status, n in statuses.items():
            total[status] = total.get(status, 0) + n
    return total


def job_waits(t0: float, t1: float) -> dict[str, list[float]]:
    """How long a job waited for a worker, from the rows: a lookup's first member call (from the lookup's
    start to the call's start: finished - started - the call's own duration) and an SMS (queued to sent)."""
    from portal.lookup.models import LookupQuery
    from portal.sms.models import SmsMessage

    since, until = (datetime.fromtimestamp(t, timezone.utc) for t in (t0, t1))
    calls = LookupQuery.objects.filter(
        started_at__range=(since, until), attempts=1, duration_ms__isnull=False, finished_at__isnull=False
    ).values_list("started_at", "finished_at", "duration_ms")
    sms = SmsMessage.objects.filter(created_at__range=(since, until), sent_at__isnull=False).values_list(
        "created_at", "sent_at"
    )
    return {
        "lookup call waited for a worker": [max(0.0, (f - s).total_seconds() - d / 1000) for s, f, d in calls],
        "SMS waited to be sent": [(sent - made).total_seconds() for made, sent in sms],
    }


def rows_lost(results: list[dict]) -> tuple[dict[str, int], dict[str, int]]:
    """Answers that promised a row, against the rows there once everything settled."""
    from portal.lookup.models import Lookup, LookupQuery
    from portal.recycling.models import NumberCheckAudit, NumberEvent
    from portal.sms.models import SmsMessage
    from portal.verification.models import VerificationCode

    lookups = [i for r in results for i in r["accepted"]["lookups"]]
    events = [e for r in results for e in r["accepted"]["events"]]
    found_events = sum(
        NumberEvent.objects.filter(event_id__in=events[i : i + 5000]).count() for i in range(0, len(events), 5000)
    )
    return {
        "codes (202 / code page)": sum(r["accepted"]["codes"] for r in results) - VerificationCode.objects.count(),
        "code SMS not sent": SmsMessage.objects.filter(purpose="verification_code").exclude(status="sent").count(),
        "lookups (201 / 302)": len(lookups) - Lookup.objects.filter(pk__in=lookups).count(),
        "lookups not completed": Lookup.objects.exclude(state=Lookup.State.COMPLETED).count(),
        "lookup rows not settled": LookupQuery.objects.exclude(state__in=LookupQuery.SETTLED).count(),
        "carrier events (200)": len(events) - found_events,
        "check audits (200)": sum(r["accepted"]["audits"] for r in results) - NumberCheckAudit.objects.count(),
    }, {
        "codes": sum(r["accepted"]["codes"] for r in results),
        "lookups": len(lookups),
        "events": len(events),
        "audits": sum(r["accepted"]["audits"] for r in results),
    }


def drain(timeout: float = 300):
    """Wait until every lookup completed, every SMS was handed over and the check audit buffer is written."""
    import redis
    from django.conf import settings

    from portal.lookup.models import Lookup
    from portal.recycling.checks import NUMBER_CHECK_AUDIT_BUFFER
    from portal.sms.models import SmsMessage

    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        wait_for(
            lambda: (
                not Lookup.objects.exclude(state=Lookup.State.COMPLETED).exists()
                and not SmsMessage.objects.filter(status="queued").exists()
                and not client.llen(NUMBER_CHECK_AUDIT_BUFFER)
            ),
            "everything settled",
            timeout,
        )
    except SystemExit as not_settled:  # counted below as rows lost or not completed
        print(not_settled, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10, help="the steady phase")
    parser.add_argument(
        "--overload-minutes", type=float, default=2, help="lookups at twice the steady rate; 0 skips it"
    )
    parser.add_argument(
        "--in-flight-max",
        type=int,
        default=10,
        help=(
            "LOOKUPS_IN_FLIGHT_MAX for the portal (production: 200). 10 is about what the steady phase holds "
            "on 2 shared cores (at most ~6 in flight) with a margin: more would only wait longer for the same workers"
        ),
    )
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4, help="Celery worker processes")
    parser.add_argument("--latency-ms", type=int, default=100, help="the member apps' latency")
    parser.add_argument("--error-rate", type=float, default=0.02, help="share of member answers that are 503")
    args = parser.parse_args()

    os.environ["LOOKUPS_IN_FLIGHT_MAX"] = str(args.in_flight_max)
    OUT.mkdir(parents=True, exist_ok=True)
    port = int(os.environ.get("BENCH_PORT", "8931"))
    base, sim_port = f"http://127.0.0.1:{port}", port + 1
    prepare_database()
    import django

    django.setup()
    import httpx
    import redis
    from django.conf import settings

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    register_carrier()
    register_member()
    app_ids, staff = register_lookup_members(sim_port)

    (OUT / "beat-schedule").unlink(missing_ok=True)
    processes = Processes(
        {
            "web (gunicorn)": start(
                [
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
                ]
            ).pid,
            "celery worker": start(
                [
                    "-m",
                    "celery",
                    "-A",
                    "portal",
                    "worker",
                    "-l",
                    "ERROR",
                    "--concurrency",
                    str(args.concurrency),
                    "-n",
                    "soak@%h",
                    "--without-gossip",
                    "--without-mingle",
                ]
            ).pid,
            "celery beat": start(
                ["-m", "celery", "-A", "portal", "beat", "-l", "ERROR", "-s", str(OUT / "beat-schedule")]
            ).pid,
            "simulator": start(
                [
                    "manage.py",
                    "run_simulator",
                    "--port",
                    str(sim_port),
                    "--apps",
                    str(APPS),
                    "--latency-ms",
                    str(args.latency_ms),
                    "--error-rate",
                    str(args.error_rate),
                    "--slow",
                    f"app{APPS:02d}={args.latency_ms * 6}",
                    "--key-id-format",
                    "soak_{slug}",
                    "--portal-url",
                    base,
                ]
            ).pid,
        }
    )
    wait_for(lambda: httpx.get(f"http://127.0.0.1:{sim_port}/_control", timeout=2).status_code == 200, "the simulator")
    wait_for(lambda: httpx.get(f"{base}/healthz", timeout=5).status_code == 200, "the portal (web, broker, worker)")
    config = {
        "database_url": os.environ["DATABASE_URL"],
        "carrier_key_id": CARRIER_KEY_ID,
        "carrier_secret": CARRIER_SECRET,
        "member_key_id": MEMBER_KEY_ID,
        "member_secret": MEMBER_SECRET,
        "staff": staff,
        "app_ids": app_ids,
    }
    print(
        f"soak: {args.minutes:g} min steady + {args.overload_minutes:g} min overload; "
        f"{args.web_workers} gunicorn workers, {args.concurrency} Celery worker processes, {APPS} member apps at "
        f"{args.latency_ms} ms ({args.error_rate:.0%} answered 503, one at {args.latency_ms * 6} ms), "
        f"LOOKUPS_IN_FLIGHT_MAX {args.in_flight_max}; {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at start",
        flush=True,
    )

    sampler = Sampler()
    sampler.start()
    results = [run_locust("warm-up", base, {"ApiCitizen": 2, "Staff": 1, "Visitor": 1}, 20, config)]
    memory_start = processes.rss_mb()

    t0 = time.time()
    results.append(run_locust("steady", base, STEADY_USERS, int(args.minutes * 60), config))
    t1 = time.time()
    from portal.lookup.models import Lookup

    since, until = (datetime.fromtimestamp(t, timezone.utc) for t in (t0, t1))
    completed = Lookup.objects.filter(created_at__range=(since, until), state=Lookup.State.COMPLETED).count()
    rate = completed / (t1 - t0)
    print_phase("steady", results[-1], sampler, t0, t1)
    print(f"sustained lookup rate: {rate:.2f} completed lookups/s ({completed} in {t1 - t0:.0f} s)", flush=True)

    if args.overload_minutes:
        drain()
        target = 2 * rate
        # each starts a lookup every rush/target s whatever the answer: 40 s, longer than a slow captcha, code and
        # lookup take here (20 s in the phase), so the rate asked is the rate sent
        rush = max(6, math.ceil(target * 40))
        users = {"Rush": rush, "PageCitizen": 1, "Carrier": 1, "Checker": 2, "Staff": 1, "Visitor": 1}
        t2 = time.time()
        results.append(
            run_locust(
                "overload", base, users, int(args.overload_minutes * 60), config | {"rush_pacing": rush / target}
            )
        )
        t3 = time.time()
        print_phase(
            f"overload: lookups started at {target:.2f}/s (2 x the sustained rate) by {rush} users",
            results[-1],
            sampler,
            t2,
            t3,
        )
        shed = sum(
            n
            for kind in ("code", "lookup", "page: code", "page: lookup")
            for s, n in results[-1]["statuses"].get(kind, {}).items()
            if s in ("503", "429")
        )
        print(f"shed with 503/429 (busy, Retry-After): {shed} requests", flush=True)

    drain()
    sampler.stopping.set()
    memory_end = processes.rss_mb()
    lost, promised = rows_lost(results)
    print(f"\nrows promised: {promised}")
    print(f"rows lost (must be 0): {lost}")
    print("memory (RSS MB, each process of the role) at start -> end:")
    for role in memory_start:
        print(
            f"  {role:16} {', '.join(f'{m:.0f}' for m in memory_start[role])}"
            f" -> {', '.join(f'{m:.0f}' for m in memory_end[role])}"
        )
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    assert not any(lost.values()), lost


if __name__ == "__main__":
    main()
