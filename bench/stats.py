"""Statistics benchmark (issue 6, section 3).

Loads complaints and lookups spread over three years into its own database (server-side generate_series:
no rows travel through Python), with skewed spreads like real data (a few big platforms and carriers,
populous provinces, most old cases closed), rebuilds the rollups, then times warm:
  - every dashboard page and API call (median of several runs each; target: under 300 ms),
  - the periodic (incremental) rollup refresh,
  - the whole case CSV (a million rows; target under 30 s), with the process's peak memory growth.

    .venv/bin/python bench/stats.py [--complaints 1000000] [--lookups 10000000] [--lookup-queries 2000000] [--runs 7]
    .venv/bin/python bench/stats.py --reuse      # keep the loaded database, time again

Uses its own database (portal_bench_stats) and Redis database 12.
"""

import argparse
import os
import statistics
import time
from datetime import timedelta

from common import configure, prepare_database  # noqa: E402

configure(database="portal_bench_stats", redis_db=12)

PLATFORMS, APPS_PER_PLATFORM, CARRIERS = 30, 2, 5
DAYS = 3 * 365


def timed(label: str, fn):
    started = time.perf_counter()
    result = fn()
    print(f"  {label}: {time.perf_counter() - started:.1f} s", flush=True)
    return result


def load(complaints: int, lookups: int, lookup_queries: int):
    import django

    django.setup()
    from django.db import connection

    from registry.models import MemberApp, Organisation, StaffUser
    from registry.validators import uscc_check_character

    def org(n: int, kind: str, name: str) -> Organisation:
        prefix = f"91110000MA{n:07d}"
        return Organisation.objects.create(
            credit_code=prefix + uscc_check_character(prefix),
            kind=kind,
            legal_name=name,
            contact_name="基准",
            contact_email=f"bench{n}@example.cn",
            status="active",
        )

    platforms = [org(n, Organisation.Kind.INTERNET_PLATFORM, f"基准平台{n:02d}有限公司") for n in range(PLATFORMS)]
    carriers = [
        org(100 + n, Organisation.Kind.BASIC_CARRIER if n < 3 else Organisation.Kind.MVNO, f"基准运营商{n}")
        for n in range(CARRIERS)
    ]
    apps = [
        MemberApp.objects.create(organisation=p, name=f"基准应用{i}-{k}", category="social", supports_lookup=True)
        for i, p in enumerate(platforms)
        for k in range(APPS_PER_PLATFORM)
    ]
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    for email, province in (("national@bench.example.cn", ""), ("guangdong@bench.example.cn", "44")):
        TOTP.activate(
            StaffUser.objects.create(email=email, role=StaffUser.Role.REGULATOR, province=province),
            generate_totp_secret(),
        )  # staff pages open only with TOTP set up

    app_ids = "ARRAY[" + ",".join(str(a.pk) for a in apps) + "]::bigint[]"
    app_orgs = "ARRAY[" + ",".join(str(a.organisation_id) for a in apps) + "]::bigint[]"
    # carriers weighted like the market: three big ones, two MVNOs
    carrier_ids = (
        "ARRAY[" + ",".join(str(c.pk) for c, w in zip(carriers, (5, 3, 2, 1, 1)) for _ in range(w)) + "]::bigint[]"
    )
    provinces = "ARRAY['44','44','44','37','37','41','41','32','32','51','33','33','13','42','43','34','11','31','35','53','45','36','21','61','50','14','12','23','22','52','62','15','65','64','63','46','54']"
    categories = (
        "ARRAY['debt_collection','debt_collection','debt_collection','debt_collection','cannot_register',"
        "'cannot_register','cannot_register','marketing','marketing','banned','banned','someone_elses_account',"
        "'wrong_tag','previous_holder_loss','unbind_not_handled','other']"
    )
    print(f"loading {complaints:,} complaints, {lookups:,} lookups, {lookup_queries:,} lookup queries over {DAYS} days")
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        timed(
            "complaints",
            lambda: cursor.execute(f"""
            INSERT INTO complaints_complaint (reference, state, category, respondent_name, province, city, phone_hash,
                phone_encrypted, email_encrypted, description, desired_outcome, consent_to_share, purged_at, received_at,
                accepted_at, rejected_reason, sent_at, answer_due_at, final_due_at, first_answer_at, answered_at, answer,
                relief, answer_text, timely, escalated_at, feedback, feedback_score, feedback_comment, feedback_at,
                closed_at, app_id, carrier_id, organisation_id)
            SELECT 'BS' || lpad(i::text, 9, '0'),
                CASE WHEN answered IS NULL THEN CASE WHEN received < now() - interval '16 days' THEN 'escalated' ELSE 'sent' END
                     WHEN r3 < 0.7 THEN 'closed' WHEN r3 < 0.85 THEN 'escalated' ELSE 'answered' END,
                ({categories})[1 + floor(random() * 16)::int], '', ({provinces})[1 + floor(random() * 37)::int], '', '',
                '', '', '', '', false, received, received, received + interval '6 hours', '', received + interval '1 day',
                received + interval '16 days', received + interval '61 days', answered, answered,
                CASE WHEN answered IS NULL THEN '' ELSE 'closed_with_relief' END, CASE WHEN answered IS NULL THEN '' ELSE 'unbound' END,
                '', CASE WHEN answered IS NULL THEN CASE WHEN received < now() - interval '16 days' THEN false END
                         ELSE answered <= received + interval '16 days' END,
                CASE WHEN answered IS NULL AND received < now() - interval '16 days' THEN received + interval '16 days'
                     WHEN answered IS NOT NULL AND r3 >= 0.7 AND r3 < 0.85 THEN answered + interval '3 days' END,
                CASE WHEN answered IS NULL OR r3 >= 0.85 THEN '' WHEN r3 < 0.7 THEN 'satisfied' ELSE 'disputed' END,
                CASE WHEN answered IS NULL OR r3 >= 0.85 THEN NULL WHEN r3 < 0.7 THEN 4 ELSE 1 END, '',
                CASE WHEN answered IS NOT NULL AND r3 < 0.85 THEN answered + interval '3 days' END,
                CASE WHEN answered IS NOT NULL AND r3 < 0.7 THEN answered + interval '3 days' END,
                app, CASE WHEN r4 < 0.1 THEN NULL ELSE ({carrier_ids})[1 + floor(r4 * 12)::int] END, app_org
            FROM (
                SELECT i, received, r3, r4, app, app_org,
                       CASE WHEN received + make_interval(days => d) < now() THEN received + make_interval(days => d) END AS answered
                FROM (
                    SELECT i, now() - make_interval(secs => random() * {DAYS} * 86400) AS received, random() AS r3, random() AS r4,
                           ({app_ids})[k] AS app, ({app_orgs})[k] AS app_org, 1 + floor(random() * random() * 40)::int AS d
                    FROM (SELECT i, 1 + floor({len(apps)} * power(random(), 2.5))::int AS k
                          FROM generate_series(1, {complaints}) i) numbered
                ) base
            ) c"""),
        )
        timed(
            "lookups",
            lambda: cursor.execute(f"""
            INSERT INTO portal_lookup (id, phone_hash, phone_number, access_token_hash, state, created_at, completed_at,
                purged_at, apps_total, apps_with_accounts, accounts_total, accounts_previous, identity_check)
            SELECT gen_random_uuid(), '', '', '', 'completed', t, t + interval '3 seconds', t, {len(apps)}, a, a + b, b, ''
            FROM (SELECT now() - make_interval(secs => random() * {DAYS} * 86400) AS t, floor(random() * 5)::int AS a,
                         floor(random() * 2)::int AS b FROM generate_series(1, {lookups})) l"""),
        )
        timed(
            "lookup queries",
            lambda: cursor.execute(f"""
            INSERT INTO portal_lookupquery (request_id, id_check, state, error, attempts, deadline_at, accounts,
                accounts_total, accounts_previous, app_id, lookup_id)
            SELECT gen_random_uuid(), '{{}}', CASE WHEN random() < 0.3 THEN 'answered' ELSE 'no_account' END, '', 1,
                   created_at, '[]', 0, 0, ({app_ids})[1 + floor({len(apps)} * power(random(), 1.5))::int], id
            FROM portal_lookup LIMIT {lookup_queries}"""),
        )
        timed("analyze", lambda: cursor.execute("ANALYZE"))
    from complaints.statistics.services import statistics_refresh

    timed("rollups rebuilt (statistics_refresh --full)", lambda: statistics_refresh(full=True))


def median_ms(fn, runs: int) -> float:
    fn()  # warm
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(runs: int):
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from complaints.statistics.services import statistics_refresh
    from registry.models import Organisation, StaffUser

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM complaints_complaint")
        total = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM complaints_complaintday")
        rollup_rows = cursor.fetchone()[0]
    print(f"{total:,} complaints in {rollup_rows:,} rollup rows ({total / max(1, rollup_rows):.1f} cases a row)")
    platform = Organisation.objects.filter(kind="internet_platform").order_by("pk").first().pk
    carrier = Organisation.objects.filter(kind="basic_carrier").order_by("pk").first().pk
    today = timezone.localdate()
    national, guangdong = Client(), Client()
    national.force_login(StaffUser.objects.get(email="national@bench.example.cn"))
    guangdong.force_login(StaffUser.objects.get(email="guangdong@bench.example.cn"))
    year = f"start={today.replace(year=today.year - 1)}&end={today}"
    cases = [
        ("dashboard, 12 months, by month (national)", national, "/staff/statistics/"),
        (
            "dashboard, 3 years, by quarter",
            national,
            f"/staff/statistics/?start={today.replace(year=today.year - 3)}&interval=quarter",
        ),
        ("dashboard, 12 months asked by day (drawn by week)", national, f"/staff/statistics/?{year}&interval=day"),
        (
            "dashboard, 3 months, by day",
            national,
            f"/staff/statistics/?start={today - timedelta(days=91)}&end={today}&interval=day",
        ),
        (
            "dashboard, 12 months, by week, province+category+carrier",
            national,
            f"/staff/statistics/?{year}&interval=week&province=44&category=debt_collection&carrier={carrier}",
        ),
        ("dashboard, platform+state", national, f"/staff/statistics/?platform={platform}&state=closed"),
        ("dashboard (provincial regulator)", guangdong, "/staff/statistics/"),
        ("quarterly report", national, "/staff/statistics/quarterly/"),
        ("table CSV: platforms", national, "/staff/statistics/platforms.csv"),
        ("API headline", national, "/api/v1/stats/headline"),
        ("API trends, month x platform", national, "/api/v1/stats/trends?interval=month&lens=platform"),
        ("API by province", national, "/api/v1/stats/provinces"),
        ("public page", Client(), "/statistics/"),
        ("public JSON", Client(), "/statistics/open-data.json"),
    ]

    def get(client, url):
        def call():
            response = client.get(url, HTTP_HOST="localhost")
            assert response.status_code == 200, (url, response.status_code)
            if response.streaming:
                b"".join(response.streaming_content)

        return call

    print(f"pages and API calls, warm, median of {runs} (target < 300 ms):")
    results = []
    for label, client, url in cases:
        ms = median_ms(get(client, url), runs)
        results.append(ms)
        print(f"  {ms:7.0f} ms  {label}", flush=True)
    print(f"  slowest {max(results):.0f} ms; {sum(ms < 300 for ms in results)}/{len(results)} under 300 ms")
    print(f"periodic rollup refresh (recent + changed days): {median_ms(lambda: statistics_refresh(), 3):.0f} ms")

    start = today.replace(year=today.year - 3)
    response = national.get(f"/staff/statistics/cases.csv?start={start}&end={today}", HTTP_HOST="localhost")
    before, peak, rows, size = rss_mb(), rss_mb(), 0, 0
    started = time.perf_counter()
    for n, chunk in enumerate(response.streaming_content):
        size += len(chunk)
        rows += chunk.count(b"\n")
        if n % 50 == 0:
            peak = max(peak, rss_mb())
    seconds = time.perf_counter() - started
    print(
        f"case CSV: {rows - 1:,} rows, {size / 2**20:.0f} MB in {seconds:.1f} s (target < 30 s); "
        f"memory {before:.0f} MB before, peak {peak:.0f} MB (+{peak - before:.0f} MB)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--complaints", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=10_000_000)
    parser.add_argument(
        "--lookup-queries",
        type=int,
        default=2_000_000,
        help="lookup rows' per-app queries (sizes for per-100,000 rates)",
    )
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--reuse", action="store_true", help="time the database loaded by an earlier run")
    args = parser.parse_args()
    if not args.reuse:
        prepare_database()
        started = time.perf_counter()
        load(args.complaints, args.lookups, args.lookup_queries)
        print(f"loaded in {time.perf_counter() - started:.0f} s")
    measure(args.runs)


if __name__ == "__main__":
    main()
