"""Rebuilding the statistics rollups (`ComplaintDay`, `ComplaintMonth`, `LookupDay`, `LookupAppDay`) from the
case and lookup rows: the last few days and the days of cases that changed, every few minutes (beat), or
everything (`--full`). Every figure is a sum over these rollups."""

import datetime as dt

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from complaints.statistics.filters import local_midnight, next_month, time_zone
from complaints.statistics.rollups import ALL_DIMS, CUBE_SETS, DAY_COLUMNS, ROLLUP_COLUMNS, ROLLUP_DIMS

_ANSWER_DAY_COUNTS = ", ".join(f"count(*) FILTER (WHERE answer_days = {n})" for n in range(len(DAY_COLUMNS)))
_DAY_GROUPING_SETS = ", ".join("(" + ", ".join(["day", *group]) + ")" for group in CUBE_SETS)

COMPLAINT_ROLLUP_INSERT = f"""
INSERT INTO complaints_complaintday (day, dims, {ROLLUP_DIMS}, {ROLLUP_COLUMNS})
SELECT day, {ALL_DIMS} - GROUPING({ROLLUP_DIMS}), coalesce(province, ''), coalesce(category, ''), coalesce(state, ''),
       organisation_id, carrier_id,
       count(*), count(answered_at), count(*) FILTER (WHERE timely), count(*) FILTER (WHERE NOT timely),
       count(*) FILTER (WHERE feedback <> ''), count(*) FILTER (WHERE feedback = 'satisfied'), count(escalated_at),
       {_ANSWER_DAY_COUNTS}
FROM (SELECT (received_at AT TIME ZONE %(tz)s)::date AS day, {ROLLUP_DIMS}, answered_at, timely, feedback,
             escalated_at, floor(extract(epoch FROM answered_at - received_at) / 86400) AS answer_days
      FROM complaints_complaint WHERE merged_into_id IS NULL {{where}}) c
GROUP BY GROUPING SETS ({_DAY_GROUPING_SETS})
"""

# months are summed from the days, cube rows and all
COMPLAINT_MONTH_INSERT = f"""
INSERT INTO complaints_complaintmonth (day, dims, {ROLLUP_DIMS}, {ROLLUP_COLUMNS})
SELECT date_trunc('month', day::timestamp)::date, dims, {ROLLUP_DIMS},
       {", ".join(f"sum({c})" for c in ROLLUP_COLUMNS.split(", "))}
FROM complaints_complaintday WHERE true {{where}}
GROUP BY 1, 2, 3, 4, 5, 6, 7
"""

LOOKUP_ROLLUP_INSERT = """
INSERT INTO complaints_lookupday (day, lookups, completed, with_accounts, accounts, accounts_previous)
SELECT (created_at AT TIME ZONE %(tz)s)::date, count(*), count(completed_at),
       count(*) FILTER (WHERE apps_with_accounts > 0),
       coalesce(sum(accounts_total), 0), coalesce(sum(accounts_previous), 0)
FROM portal_lookup l WHERE l.origin <> 'carrier_renewal' {where}  -- a renewal (portal/carrier/) asks no member
GROUP BY 1
"""

LOOKUP_APP_ROLLUP_INSERT = """
INSERT INTO complaints_lookupappday (day, app_id, organisation_id, asked, with_accounts)
SELECT (l.created_at AT TIME ZONE %(tz)s)::date, q.app_id, a.organisation_id, count(*),
       count(*) FILTER (WHERE q.state = 'answered')
FROM portal_lookupquery q JOIN portal_lookup l ON l.id = q.lookup_id JOIN registry_memberapp a ON a.id = q.app_id
WHERE true {where}
GROUP BY 1, 2, 3
"""

ROLLUP_TABLES = (
    "complaints_complaintday",
    "complaints_complaintmonth",
    "complaints_lookupday",
    "complaints_lookupappday",
)
MONTHS_WHERE = "AND day >= %(low)s AND day < %(high)s AND date_trunc('month', day::timestamp)::date = ANY(%(months)s)"


@transaction.atomic
def statistics_refresh(*, full: bool = False, days: set[dt.date] | None = None, now: dt.datetime | None = None) -> dict:
    """Rebuild the rollups: everything (`full`), the given days, or (the periodic run) the last
    STATISTICS_REFRESH_RECENT_DAYS days plus the days whose cases changed in the last
    STATISTICS_REFRESH_CHANGED_HOURS hours. Idempotent; concurrent runs wait for each other."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('complaints.statistics_refresh'))")
        if full:
            _refresh_all(cursor)
            return {"days": "all"}
        today = timezone.localdate(now)
        recent = {today - dt.timedelta(days=n) for n in range(settings.STATISTICS_REFRESH_RECENT_DAYS)}
        if days is not None:
            complaint_days = lookup_days = set(days)
        else:
            since = now - dt.timedelta(hours=settings.STATISTICS_REFRESH_CHANGED_HOURS)
            complaint_days, lookup_days = recent | _changed_complaint_days(cursor, since), recent
        _refresh_days(cursor, complaint_days, lookup_days)
        months = _refresh_months(cursor, complaint_days)
    return {"days": len(complaint_days), "months": len(months)}


def _refresh_all(cursor) -> None:
    tz = time_zone()
    for table in ROLLUP_TABLES:
        cursor.execute(f"DELETE FROM {table}")
    cursor.execute(COMPLAINT_ROLLUP_INSERT.format(where=""), {"tz": tz})
    cursor.execute(COMPLAINT_MONTH_INSERT.format(where=""))
    cursor.execute(LOOKUP_ROLLUP_INSERT.format(where=""), {"tz": tz})
    cursor.execute(LOOKUP_APP_ROLLUP_INSERT.format(where=""), {"tz": tz})


def _changed_complaint_days(cursor, since: dt.datetime) -> set[dt.date]:
    cursor.execute(
        "SELECT DISTINCT (c.received_at AT TIME ZONE %s)::date FROM complaints_complaintevent e "
        "JOIN complaints_complaint c ON c.id = e.complaint_id WHERE e.at >= %s",
        [time_zone(), since],
    )
    return {row[0] for row in cursor.fetchall()}


def _refresh_days(cursor, complaint_days: set[dt.date], lookup_days: set[dt.date]) -> None:
    """Delete and rebuild the given days of the daily rollups."""
    for rollup_days, table, insert, column in (
        (complaint_days, "complaints_complaintday", COMPLAINT_ROLLUP_INSERT, "received_at"),
        (lookup_days, "complaints_lookupday", LOOKUP_ROLLUP_INSERT, "l.created_at"),
        (lookup_days, "complaints_lookupappday", LOOKUP_APP_ROLLUP_INSERT, "l.created_at"),
    ):
        if not rollup_days:
            continue
        day_list = sorted(rollup_days)
        cursor.execute(f"DELETE FROM {table} WHERE day = ANY(%s)", [day_list])
        # the range lets the index on the timestamp do the work; the day list picks the days inside it
        where = (
            f"AND {column} >= %(low)s AND {column} < %(high)s AND ({column} AT TIME ZONE %(tz)s)::date = ANY(%(days)s)"
        )
        cursor.execute(
            insert.format(where=where),
            {
                "tz": time_zone(),
                "days": day_list,
                "low": local_midnight(day_list[0]),
                "high": local_midnight(day_list[-1] + dt.timedelta(days=1)),
            },
        )


def _refresh_months(cursor, complaint_days: set[dt.date]) -> list[dt.date]:
    """Rebuild the months of the monthly rollup that the rebuilt days fall in."""
    months = sorted({day.replace(day=1) for day in complaint_days})
    if months:
        cursor.execute("DELETE FROM complaints_complaintmonth WHERE day = ANY(%s)", [months])
        cursor.execute(
            COMPLAINT_MONTH_INSERT.format(where=MONTHS_WHERE),
            {"months": months, "low": months[0], "high": next_month(months[-1])},
        )
    return months
