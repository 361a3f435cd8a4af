"""Restore drill (issue 17 §4): back up with pgBackRest as production does (docs/deployment.md, "Backups"),
lose the database, restore it, and check that the site serves the same lookups, complaints and statistics.

1. A throw-away PostgreSQL cluster under a temporary directory (bench/drill_cluster.py), archiving its WAL
   with pgBackRest; the demo data, a Celery worker and the platform simulator.
2. The morning's traffic (bench/drill_traffic.py), then a full backup while the worker is still running.
3. The afternoon's traffic: only the archived WAL holds it. The worker stops; the drill fetches the pages
   and API answers it will compare, counts every table's rows and digests its contents, and sets a
   named restore point.
4. The accident: DROP DATABASE (and the Redis cache emptied).
5. The restore, as onto a new machine: the data directory wiped, the full backup copied back, the WAL
   replayed to the restore point (the DROP comes after it), the server promoted.
6. Every table's rows and digest, and the same pages and API answers, compared with step 3's.

Prints the tools and versions, a table of row counts (at the backup, at the restore point, restored),
the answers compared, and the backup's and the restore's times; exits 1 on any difference. `--no-wal`
restores the backup alone (no WAL replayed): the drill must then report the afternoon missing.
    .venv/bin/python bench/restore_drill.py [--lookups 30] [--no-wal] [--keep]
Needs Debian's PostgreSQL 15 server binaries and pgBackRest (`apt-get install -y postgresql-15 pgbackrest`),
Redis on 127.0.0.1 (database 10, emptied; REDIS_URL moves it). One minute on an idle 2-core machine,
three to four when it is loaded. Not part of `make test`: it is a drill, run by hand.
"""

import argparse
import atexit
import hashlib
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

from common import ROOT, configure, start  # noqa: F401  (common puts the project on sys.path)
from drill_cluster import Cluster, DrillError, free_port, missing_tools

DATABASE = "portal_drill"
RESTORE_POINT = "drill-before-the-accident"
VOLATILE = [  # differ between any two fetches of the same page, whatever the database holds
    (re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]*'), r"\1"),
    (re.compile(r'(nonce=")[^"]*'), r"\1"),
]


def normalise(body: bytes, content_type: str) -> str:
    """A response's body, comparable between two fetches: JSON with sorted keys; HTML without the
    per-request CSRF token and CSP nonce."""
    if content_type.startswith("application/json"):
        return json.dumps(json.loads(body), sort_keys=True, ensure_ascii=False)
    text = body.decode()
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def differences(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]) -> list[str]:
    """Tables whose row count or content digest changed, or that one side lacks."""
    return sorted(table for table in before.keys() | after.keys() if before.get(table) != after.get(table))


def table_snapshot() -> dict[str, tuple[int, str]]:
    """Every table's row count and a digest of its rows (order-independent)."""
    from django.db import connection

    snapshot = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            cursor.execute(
                "SELECT count(*), md5(coalesce(string_agg(md5(t::text), '' ORDER BY md5(t::text)), '')) "
                f'FROM "{table}" t'
            )
            snapshot[table] = tuple(cursor.fetchone())
    return snapshot


def subjects(morning, afternoon) -> list[tuple[str, str, dict]]:
    """(label, path, how to ask): lookups' status through the API (Bearer token), complaints' tracking
    pages (the holder's session), the open statistics page and data, and the regulator's statistics API."""
    picked = [
        ("lookup (in the backup)", *morning.lookups[0]),
        ("lookup, then unbind all (in the backup)", *morning.lookups[-1]),
        ("lookup (WAL only)", *afternoon.lookups[0]),
    ]
    wanted = [(label, f"/api/v1/lookups/{lookup.pk}", {"bearer": token}) for label, lookup, token in picked]
    for label, complaint in [
        ("complaint answered, then rated (WAL)", morning.complaints[0]),
        ("complaint answered, then disputed (WAL)", morning.complaints[2]),
        ("complaint (WAL only)", afternoon.complaints[0]),
    ]:
        path = f"/complaints/{complaint.reference}/"
        wanted.append((f"{label} {complaint.reference}", path, {"complaint": complaint.pk}))
    wanted += [("/statistics/", "/statistics/", {}), ("open data JSON", "/statistics/open-data.json", {})]
    for name in ("headline", "platforms", "trends"):
        wanted.append((f"regulator API {name}", f"/api/v1/stats/{name}", {"regulator": True}))
    wanted.append(("regulator dashboard", "/staff/statistics/", {"regulator": True}))
    return wanted


def fetch(path: str, how: dict) -> tuple[int, str]:
    from django.test import Client

    from registry.middleware import second_factor_record
    from registry.models import StaffUser

    client, headers = Client(), {}
    if "bearer" in how:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {how['bearer']}"
    if "complaint" in how:
        session = client.session
        session["complaints"] = [how["complaint"]]  # as complaints.views does once the number is proven
        session.save()
    if how.get("regulator"):
        regulator = StaffUser.objects.get(email="regulator@demo.portal")
        client.force_login(regulator)
        session = client.session
        second_factor_record(session, regulator)  # as signing in with the TOTP code does
        session.save()
    response = client.get(path, HTTP_ACCEPT_LANGUAGE="zh-hans", **headers)
    return response.status_code, normalise(response.content, response.get("Content-Type", ""))


def fetch_all(wanted) -> dict[str, tuple[int, str]]:
    return {label: fetch(path, how) for label, path, how in wanted}


def print_tables(at_backup, at_target, restored) -> None:
    print(f"\n{'table':44} {'at backup':>10} {'at target':>10} {'restored':>10}  same")
    empty = 0
    for table in sorted(at_target.keys() | restored.keys()):
        counts = [snap.get(table, (None, ""))[0] for snap in (at_backup, at_target, restored)]
        if not any(counts):
            empty += 1
            continue
        same = "yes" if at_target.get(table) == restored.get(table) else "NO"
        print(
            f"{table:44} {counts[0] if counts[0] is not None else '-':>10} {counts[1]:>10} "
            f"{counts[2] if counts[2] is not None else '-':>10}  {same}"
        )
    total = [sum(snap[t][0] for t in snap) for snap in (at_backup, at_target, restored)]
    label = f"all {len(at_target)} tables ({empty} empty)"
    print(f"{label:44} {total[0]:>10} {total[1]:>10} {total[2]:>10}")


def print_answers(before, after) -> list[str]:
    print(f"\n{'answer compared':62} {'before':>6} {'after':>6} {'bytes':>8}  same")
    bad = []
    for label in before:
        (status_b, body_b), (status_a, body_a) = before[label], after[label]
        same = status_b == status_a == 200 and body_b == body_a
        if not same:
            bad.append(label)
        digest = hashlib.sha256(body_a.encode()).hexdigest()[:8]
        size = len(body_a.encode())
        print(f"{label[:62]:62} {status_b:>6} {status_a:>6} {size:>8}  {'yes' if same else 'NO'} {digest}")
    return bad


def start_helpers(port: int):
    """The platform simulator (16 demo apps; 示例支付 refuses unbinding) and a Celery worker."""
    import httpx

    from portal.celery import app as celery_app

    simulator = start(
        [
            "manage.py",
            "run_simulator",
            "--port",
            str(port),
            "--apps",
            "16",
            "--latency-ms",
            "50",
            "--unbind-refuse",
            "app03",
        ]
    )
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
            "2",
            "-n",
            "drill@%h",
            "--without-gossip",
            "--without-mingle",
        ]
    )
    deadline = time.monotonic() + 90  # a loaded machine starts them slowly
    while time.monotonic() < deadline:
        try:
            up = httpx.get(f"http://127.0.0.1:{port}/_control", timeout=1).status_code == 200
            if up and celery_app.control.ping(timeout=1):
                return simulator, worker
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit("the simulator or the worker did not come up within 90 s")


def stop_helpers(*children) -> None:
    for child in children:
        child.terminate()
        child.wait(timeout=120)  # a worker finishes the task it holds first


def prepare(args) -> Cluster:
    missing = missing_tools()
    if missing:
        raise SystemExit(f"missing {', '.join(missing)}: apt-get install -y postgresql-15 pgbackrest")
    root = Path(tempfile.mkdtemp(prefix="restore-drill-"))
    cluster = Cluster(root, free_port())
    atexit.register(_cleanup, cluster, args.keep)
    cluster.create()
    cluster.start()
    cluster.stanza_create()
    cluster.execute(f'CREATE DATABASE "{DATABASE}"')
    os.environ["DATABASE_URL"] = cluster.url(DATABASE)  # never the machine's PostgreSQL
    configure(
        database=DATABASE,
        redis_db=10,
        CONN_MAX_AGE="0",
        LOOKUP_CODES_PER_CLIENT_PER_DAY="100000",
        SMS_CODES_PER_HOUR="100000",
        NUMBER_EVENT_UPLOAD_DIR=str(root / "uploads"),
        COMPLAINT_EVIDENCE_DIR=str(root / "evidence"),
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )  # the holders' e-mails go nowhere
    return cluster


def _cleanup(cluster: Cluster, keep: bool) -> None:
    try:
        cluster.stop()
    except DrillError as error:
        print(error, file=sys.stderr)
    if keep:
        print(f"kept {cluster.root} (pgBackRest repository, logs, data directory)")
    else:
        shutil.rmtree(cluster.root, ignore_errors=True)


def the_day(cluster: Cluster, lookups: int) -> dict:
    """Demo, morning, online full backup, afternoon (WAL only); the worker and simulator stopped after."""
    import drill_traffic as traffic  # here: it needs Django set up, as the imports in the functions below

    rng, sim_port = random.Random(17), free_port()
    simulator, worker = start_helpers(sim_port)
    print(f"demo: {traffic.load_demo_data(sim_port)}", flush=True)
    morning = traffic.morning(rng, lookups)
    print(f"morning: {traffic.summary(morning)}; open: {traffic.settle()}", flush=True)
    at_backup = table_snapshot()
    started = time.monotonic()
    info = cluster.backup_full()  # online: the worker is still running
    backup_seconds = time.monotonic() - started
    afternoon = traffic.afternoon(rng, morning, lookups // 2)
    print(f"afternoon (after the backup): {traffic.summary(afternoon)}; open: {traffic.settle()}", flush=True)
    stop_helpers(worker, simulator)
    return {
        "morning": morning,
        "afternoon": afternoon,
        "at_backup": at_backup,
        "info": info,
        "backup_seconds": backup_seconds,
    }


def the_accident(cluster: Cluster, cache) -> None:
    """A named restore point (archived), then DROP DATABASE and the Redis cache gone with it."""
    from django.db import connections

    lsn = cluster.restore_point(RESTORE_POINT)
    connections.close_all()
    cluster.execute(f'DROP DATABASE "{DATABASE}" WITH (FORCE)')
    cache.flushdb()
    print(f"restore point {RESTORE_POINT!r} at {lsn}, archived; then DROP DATABASE {DATABASE}", flush=True)


def report(day: dict, at_target, restored, answers_before, answers_after, restore_seconds: float, began: float) -> int:
    print_tables(day["at_backup"], at_target, restored)
    bad_answers = print_answers(answers_before, answers_after)
    bad_tables = differences(at_target, restored)
    print("\n" + "\n".join(line for line in day["info"].splitlines() if "size" in line or "backup:" in line))
    print(
        f"\nfull backup {day['backup_seconds']:.1f} s (online); restore {restore_seconds:.1f} s "
        f"(copy back, WAL replay, promote); drill {time.monotonic() - began:.0f} s"
    )
    if bad_tables or bad_answers:
        print(f"DIFFERENT after the restore: tables {bad_tables or 'none'}; answers {bad_answers or 'none'}")
        return 1
    print(
        f"RESULT restored equal: {len(restored)} tables, {sum(n for n, _d in restored.values())} rows, "
        f"{len(answers_after)} answers"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=30, help="the morning's lookups (the afternoon has half)")
    parser.add_argument(
        "--no-wal",
        action="store_true",
        help="restore the backup alone, no WAL replayed: the drill must find the afternoon missing",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (repository, logs)")
    args = parser.parse_args()
    began = time.monotonic()
    warnings.filterwarnings("ignore", message="No directory at")  # static files are not collected here
    cluster = prepare(args)
    versions = cluster.versions()
    print(
        f"tools: {versions['pgbackrest']}; {versions['postgres']}; cluster {cluster.root} on port {cluster.port}",
        flush=True,
    )
    import django  # only now: prepare() pointed DATABASE_URL at the drill's cluster

    django.setup()
    import redis
    from django.conf import settings
    from django.core.management import call_command

    cache = redis.Redis.from_url(settings.REDIS_URL)
    cache.flushdb()
    call_command("migrate", verbosity=0)
    day = the_day(cluster, args.lookups)
    wanted = subjects(day["morning"], day["afternoon"])
    answers_before = fetch_all(wanted)
    at_target = table_snapshot()
    the_accident(cluster, cache)
    started = time.monotonic()
    cluster.restore_into_empty(None if args.no_wal else RESTORE_POINT)
    restore_seconds = time.monotonic() - started
    restored = table_snapshot()
    return report(day, at_target, restored, answers_before, fetch_all(wanted), restore_seconds, began)


if __name__ == "__main__":
    sys.exit(main())
