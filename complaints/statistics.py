"""Statistics for regulators and open data for the public (issue 6).

Every figure is a sum over the daily rollups (`ComplaintDay`, `LookupDay`, `LookupAppDay`), which
`statistics_refresh` rebuilds from the case and lookup rows: the last few days and the days of cases that
changed, every few minutes (beat), or everything (`--full`). One SQL scan with GROUPING SETS answers a whole
dashboard: the period and the one before it, grouped every way the page shows. Only the median days to a
final answer and the case CSV read the case rows themselves.

Who sees what is decided in ONE place, `statistics_filters_for_user`: regulators and administrators only;
a provincial regulator's province replaces whatever province was asked for.
"""

import datetime as dt
import itertools
from collections import defaultdict
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from complaints.models import Complaint, ComplaintDay
from portal.models import NumberEvent
from portal.regions import Province
from registry.models import MemberApp, Organisation, StaffUser

INTERVALS = ("day", "week", "month", "quarter", "year")
# lens name -> rollup column
LENSES = {"category": "category", "platform": "organisation_id", "carrier": "carrier_id", "province": "province",
          "state": "state"}
MEASURES = ("received", "answered", "timely", "untimely", "rated", "satisfied", "escalated")


@dataclass(frozen=True)
class Filters:
    """What a statistics page or API call counts: a period (inclusive dates, Asia/Shanghai) and any
    combination of province, carrier, platform (organisation), category and state."""

    start: dt.date
    end: dt.date
    province: str = ""
    carrier: int | None = None
    platform: int | None = None
    category: str = ""
    state: str = ""
    interval: str = "month"

    @property
    def previous(self) -> "Filters":
        """The period just before this one: as many whole months for a period of whole months (a quarter's
        previous quarter), else as many days."""
        if self.start.day == 1 and (self.end + dt.timedelta(days=1)).day == 1:
            months = (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1
            index = self.start.year * 12 + self.start.month - 1 - months
            return replace(self, start=dt.date(index // 12, index % 12 + 1, 1), end=self.start - dt.timedelta(days=1))
        days = (self.end - self.start).days + 1
        return replace(self, start=self.start - dt.timedelta(days=days), end=self.start - dt.timedelta(days=1))

    def conditions(self) -> list[tuple[str, object]]:
        """(column, value) for every filter set; the columns are the same in the rollup and the case table."""
        pairs = [("province", self.province), ("carrier_id", self.carrier), ("organisation_id", self.platform),
                 ("category", self.category), ("state", self.state)]
        return [(column, value) for column, value in pairs if value]


# Day and week buckets are read from the daily rollup; over long periods they would scan as many rows as
# there are cases and draw more columns than anyone can read, so a longer period gets wider buckets.
INTERVAL_MAX_DAYS = {"day": 92, "week": 366}


def fit_interval(start: dt.date, end: dt.date, interval: str) -> str:
    for narrow, wider in (("day", "week"), ("week", "month")):
        if interval == narrow and (end - start).days + 1 > INTERVAL_MAX_DAYS[narrow]:
            interval = wider
    return interval


def default_period(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The last twelve months: from the first day of the month eleven months ago to today."""
    today = today or timezone.localdate()
    month = today.month - 11
    year = today.year + (month - 1) // 12
    return dt.date(year, (month - 1) % 12 + 1, 1), today


# --- Who may see what (the one place) ---------------------------------------------------------------------

def statistics_reader(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active
                and user.role in (StaffUser.Role.REGULATOR, StaffUser.Role.ADMINISTRATOR))


def statistics_filters_for_user(*, user, filters: Filters) -> Filters:
    """Every regulator page, CSV and API call gets its filters through here. Other staff get 404; a
    regulator limited to a province sees that province whatever was asked for."""
    if not statistics_reader(user):
        raise Http404
    if user.role == StaffUser.Role.REGULATOR and user.province:
        return replace(filters, province=user.province)
    return filters


# --- Rollup refresh ---------------------------------------------------------------------------------------

def _tz() -> str:
    return settings.TIME_ZONE


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=ZoneInfo(_tz()))


DAY_COLUMNS = [f"days_{n:02d}" for n in range(ComplaintDay.ANSWER_DAY_COLUMNS)]
DIM_BITS, ALL_DIMS = ComplaintDay.DIM_BITS, ComplaintDay.ALL_DIMS
DIMS = list(DIM_BITS)  # province, category, state, organisation_id, carrier_id: GROUPING() bit order
ROLLUP_DIMS = ", ".join(DIMS)
ROLLUP_COLUMNS = ", ".join((*MEASURES, *DAY_COLUMNS))
# all five dimensions, and every combination of at most two
CUBE_SETS = [DIMS] + [list(c) for n in range(3) for c in itertools.combinations(DIMS, n)]

COMPLAINT_ROLLUP_INSERT = f"""
INSERT INTO complaints_complaintday (day, dims, {ROLLUP_DIMS}, {ROLLUP_COLUMNS})
SELECT day, {ALL_DIMS} - GROUPING({ROLLUP_DIMS}), coalesce(province, ''), coalesce(category, ''), coalesce(state, ''),
       organisation_id, carrier_id,
       count(*), count(answered_at), count(*) FILTER (WHERE timely), count(*) FILTER (WHERE NOT timely),
       count(*) FILTER (WHERE feedback <> ''), count(*) FILTER (WHERE feedback = 'satisfied'), count(escalated_at),
       {", ".join(f"count(*) FILTER (WHERE answer_days = {n})" for n in range(len(DAY_COLUMNS)))}
FROM (SELECT (received_at AT TIME ZONE %(tz)s)::date AS day, {ROLLUP_DIMS}, answered_at, timely, feedback, escalated_at,
             floor(extract(epoch FROM answered_at - received_at) / 86400) AS answer_days
      FROM complaints_complaint WHERE merged_into_id IS NULL {{where}}) c
GROUP BY GROUPING SETS ({", ".join("(" + ", ".join(["day", *group]) + ")" for group in CUBE_SETS)})
"""

# months are summed from the days, cube rows and all
COMPLAINT_MONTH_INSERT = f"""
INSERT INTO complaints_complaintmonth (day, dims, {ROLLUP_DIMS}, {ROLLUP_COLUMNS})
SELECT date_trunc('month', day::timestamp)::date, dims, {ROLLUP_DIMS}, {", ".join(f"sum({c})" for c in ROLLUP_COLUMNS.split(", "))}
FROM complaints_complaintday WHERE true {{where}}
GROUP BY 1, 2, 3, 4, 5, 6, 7
"""

LOOKUP_ROLLUP_INSERT = """
-- a renewal's Lookup (portal/carrier/) asks no member: it is not a lookup
INSERT INTO complaints_lookupday (day, lookups, completed, with_accounts, accounts, accounts_previous)
SELECT (created_at AT TIME ZONE %(tz)s)::date, count(*), count(completed_at), count(*) FILTER (WHERE apps_with_accounts > 0),
       coalesce(sum(accounts_total), 0), coalesce(sum(accounts_previous), 0)
FROM portal_lookup l WHERE l.origin <> 'carrier_renewal' {where}
GROUP BY 1
"""

LOOKUP_APP_ROLLUP_INSERT = """
INSERT INTO complaints_lookupappday (day, app_id, organisation_id, asked, with_accounts)
SELECT (l.created_at AT TIME ZONE %(tz)s)::date, q.app_id, a.organisation_id, count(*), count(*) FILTER (WHERE q.state = 'answered')
FROM portal_lookupquery q JOIN portal_lookup l ON l.id = q.lookup_id JOIN registry_memberapp a ON a.id = q.app_id
WHERE true {where}
GROUP BY 1, 2, 3
"""


def _changed_complaint_days(since: dt.datetime) -> set[dt.date]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT (c.received_at AT TIME ZONE %s)::date FROM complaints_complaintevent e "
            "JOIN complaints_complaint c ON c.id = e.complaint_id WHERE e.at >= %s", [_tz(), since])
        return {row[0] for row in cursor.fetchall()}


@transaction.atomic
def statistics_refresh(*, full: bool = False, days: set[dt.date] | None = None, now: dt.datetime | None = None) -> dict:
    """Rebuild the rollups: everything (`full`), the given days, or (the periodic run) the last
    STATISTICS_REFRESH_RECENT_DAYS days plus the days whose cases changed in the last
    STATISTICS_REFRESH_CHANGED_HOURS hours. Idempotent; concurrent runs wait for each other."""
    now = now or timezone.now()
    tz = _tz()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('complaints.statistics_refresh'))")
        if full:
            for table in ("complaints_complaintday", "complaints_complaintmonth", "complaints_lookupday",
                          "complaints_lookupappday"):
                cursor.execute(f"DELETE FROM {table}")
            cursor.execute(COMPLAINT_ROLLUP_INSERT.format(where=""), {"tz": tz})
            cursor.execute(COMPLAINT_MONTH_INSERT.format(where=""))
            cursor.execute(LOOKUP_ROLLUP_INSERT.format(where=""), {"tz": tz})
            cursor.execute(LOOKUP_APP_ROLLUP_INSERT.format(where=""), {"tz": tz})
            return {"days": "all"}
        today = timezone.localdate(now)
        recent = {today - dt.timedelta(days=n) for n in range(settings.STATISTICS_REFRESH_RECENT_DAYS)}
        complaint_days = set(days) if days is not None else recent | _changed_complaint_days(
            now - dt.timedelta(hours=settings.STATISTICS_REFRESH_CHANGED_HOURS))
        lookup_days = set(days) if days is not None else recent
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
            where = (f"AND {column} >= %(low)s AND {column} < %(high)s "
                     f"AND ({column} AT TIME ZONE %(tz)s)::date = ANY(%(days)s)")
            cursor.execute(insert.format(where=where), {
                "tz": tz, "days": day_list, "low": _local_midnight(day_list[0]),
                "high": _local_midnight(day_list[-1] + dt.timedelta(days=1)),
            })
        months = sorted({day.replace(day=1) for day in complaint_days})
        if months:
            cursor.execute("DELETE FROM complaints_complaintmonth WHERE day = ANY(%s)", [months])
            cursor.execute(COMPLAINT_MONTH_INSERT.format(
                where="AND day >= %(low)s AND day < %(high)s AND date_trunc('month', day::timestamp)::date = ANY(%(months)s)"),
                {"months": months, "low": months[0], "high": _next_month(months[-1])})
    return {"days": len(complaint_days), "months": len(months)}


# --- Reading the rollups ----------------------------------------------------------------------------------

def _next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _sources(start: dt.date, end: dt.date, interval: str) -> list[tuple[str, dt.date, dt.date]]:
    """Which rollup answers which days: whole months inside the period from the monthly rollup (when the
    buckets are months or longer), the days at either end from the daily one. The month that ends the
    period is whole when the period runs to today (nothing was received after it)."""
    if interval in ("day", "week"):
        return [("complaints_complaintday", start, end)]
    first_whole = start if start.day == 1 else _next_month(start)
    month_done = _next_month(end) - dt.timedelta(days=1) == end or end >= timezone.localdate()
    end_whole = _next_month(end) if month_done else end.replace(day=1)
    if first_whole >= end_whole:
        return [("complaints_complaintday", start, end)]
    sources = [("complaints_complaintmonth", first_whole, end_whole - dt.timedelta(days=1))]
    if start < first_whole:
        sources.append(("complaints_complaintday", start, first_whole - dt.timedelta(days=1)))
    if end_whole <= end:
        sources.append(("complaints_complaintday", end_whole, end))
    return sources


def _cube_mask(columns) -> int:
    """The rollup rows to read: pre-summed over the other dimensions when at most two are needed."""
    bits = sum(DIM_BITS[c] for c in set(columns))
    return bits if bin(bits).count("1") <= 2 else ALL_DIMS


OUTPUT_DIMS = [("bucket", "date"), ("province", "varchar"), ("category", "varchar"), ("state", "varchar"),
               ("organisation_id", "bigint"), ("carrier_id", "bigint")]


def complaint_figures(filters: Filters, *, sets: tuple[tuple[str, ...], ...]) -> dict[tuple, list[dict]]:
    """The rollups summed over the period and the one before it, grouped by each set of dimensions
    (`bucket` = the period's interval, or rollup columns), in one statement: the sets that read the same
    cube rows share one scan (GROUPING SETS). Returns {set: [row, ...]}, each row with `current` (this
    period or the previous one), the set's dimensions and the measures; the totals set `()` also carries
    the histogram of days to a final answer."""
    previous = filters.previous
    params = {"start": filters.start, "interval": filters.interval}
    conditions = ""
    for column, value in filters.conditions():
        conditions += f" AND {column} = %({column})s"
        params[column] = value
    ranges = []
    for period in (previous, filters):
        for table, low, high in _sources(period.start, period.end, filters.interval):
            params[f"low{len(ranges)}"], params[f"high{len(ranges)}"] = low, high
            ranges.append((table, f"%(low{len(ranges)})s", f"%(high{len(ranges)})s"))
    by_mask: dict[int, list[int]] = {}
    for index, group in enumerate(sets):
        mask = _cube_mask([d for d in group if d != "bucket"] + [c for c, _v in filters.conditions()])
        by_mask.setdefault(mask, []).append(index)
    columns = f"day, {ROLLUP_DIMS}, {ROLLUP_COLUMNS}"
    selects, decode = [], {}
    for scan, (mask, indexes) in enumerate(by_mask.items()):
        rows = " UNION ALL ".join(f"SELECT {columns} FROM {table} WHERE dims = {mask} AND day >= {low} AND day <= {high}{conditions}"
                                  for table, low, high in ranges)
        used = [d for d, _k in OUTPUT_DIMS if any(d in sets[i] for i in indexes)]
        for i in indexes:  # GROUPING() sets a bit for every dimension not grouped by, the first one highest
            decode[(scan, sum(1 << (len(used) - 1 - n) for n, d in enumerate(used) if d not in sets[i]))] = i
        outputs = [d if d in used else f"NULL::{kind}" for d, kind in OUTPUT_DIMS]
        histogram = any(not sets[i] for i in indexes)
        sums = [f"sum({m})::bigint" for m in MEASURES] + [
            f"sum({c})::bigint" if histogram else "NULL::bigint" for c in DAY_COLUMNS]
        grouping_sets = ", ".join("(" + ", ".join(["current", *sets[i]]) + ")" for i in indexes)
        selects.append(
            f"(SELECT {scan}, GROUPING({', '.join(used) or 'current'}), current, {', '.join(outputs)}, {', '.join(sums)} "
            f"FROM (SELECT *, day >= %(start)s AS current, date_trunc(%(interval)s, day::timestamp)::date AS bucket "
            f"FROM ({rows}) u) r GROUP BY GROUPING SETS ({grouping_sets}))")
    result: dict[tuple, list[dict]] = {group: [] for group in sets}
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(selects), params)
        for row in cursor.fetchall():
            group = sets[decode[(row[0], row[1])]]
            values = dict(zip((d for d, _k in OUTPUT_DIMS), row[3:9]))
            record = {"current": row[2], **{d: values[d] for d in group}}
            record.update(zip(MEASURES, row[9:9 + len(MEASURES)]))
            if not group:
                record["answer_days"] = list(row[9 + len(MEASURES):])
            result[group].append(record)
    return result


def _totals(rows: list[dict], current: bool) -> dict:
    totals = dict.fromkeys(MEASURES, 0)
    for row in rows:
        if row["current"] == current:
            for m in MEASURES:
                totals[m] += row[m]
    return totals


def _share(part, whole) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def on_time_share(row: dict) -> float | None:
    return _share(row["timely"], row["timely"] + row["untimely"])


def satisfied_share(row: dict) -> float | None:
    return _share(row["satisfied"], row["rated"])


def _median_of_histogram(histogram: list[int], total: int) -> float | None:
    """The median of whole days from counts per day (0-30); None if it lies beyond the histogram."""
    if not total:
        return None
    positions, values, seen = sorted({(total - 1) // 2, total // 2}), [], 0
    for days, count in enumerate(histogram):
        seen += count
        while positions and positions[0] < seen:
            positions.pop(0)
            values.append(days)
    if positions:
        return None
    values = values if len(values) == 2 else values * 2
    return (values[0] + values[1]) / 2


def median_days_to_answer(filters: Filters, figures: dict | None = None) -> dict[bool, float | None]:
    """Median whole days from receipt to the final answer, for the cases received in the period (True) and
    in the one before (False). Read from the rollups' histogram; only a median beyond 30 days is read from
    the case rows."""
    figures = figures or complaint_figures(filters, sets=((),))
    result = {}
    for current in (True, False):
        rows = [r for r in figures[()] if r["current"] == current]
        answered = sum(r["answered"] for r in rows)
        histogram = [sum(column) for column in zip(*(r["answer_days"] for r in rows))] if rows else []
        result[current] = _median_of_histogram(histogram, answered) if answered else None
        if answered and result[current] is None:
            result[current] = _median_from_cases(filters if current else filters.previous)
    return result


def _median_from_cases(filters: Filters) -> float | None:
    where, params = ["merged_into_id IS NULL", "answered_at IS NOT NULL", "received_at >= %(low)s", "received_at < %(high)s"], {
        "low": _local_midnight(filters.start), "high": _local_midnight(filters.end + dt.timedelta(days=1))}
    for column, value in filters.conditions():
        where.append(f"{column} = %({column})s")
        params[column] = value
    with connection.cursor() as cursor:
        cursor.execute("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY floor(extract(epoch FROM answered_at - received_at) "
                       f"/ 86400)) FROM complaints_complaint WHERE {' AND '.join(where)}", params)
        median = cursor.fetchone()[0]
    return float(median) if median is not None else None


def lookup_totals(filters: Filters) -> dict[bool, dict] | None:
    """Lookups run in the period and the one before. Lookups carry no province, so there is no figure for
    one province."""
    if filters.province:
        return None
    previous = filters.previous
    result = {True: {"lookups": 0, "with_accounts": 0}, False: {"lookups": 0, "with_accounts": 0}}
    with connection.cursor() as cursor:
        cursor.execute("SELECT day >= %s, sum(lookups), sum(with_accounts) FROM complaints_lookupday "
                       "WHERE day >= %s AND day <= %s GROUP BY 1", [filters.start, previous.start, filters.end])
        for current, lookups, with_accounts in cursor.fetchall():
            result[current] = {"lookups": int(lookups), "with_accounts": int(with_accounts)}
    return result


def number_event_totals(filters: Filters) -> dict[bool, dict] | None:
    """Numbers reported re-assigned, and freeze-period breaches among them. Number events carry a carrier
    but no province."""
    if filters.province:
        return None
    previous = filters.previous
    events = NumberEvent.objects.filter(
        type=NumberEvent.Type.REASSIGNED, occurred_at__gte=_local_midnight(previous.start),
        occurred_at__lt=_local_midnight(filters.end + dt.timedelta(days=1)))
    if filters.carrier:
        events = events.filter(carrier_id=filters.carrier)
    start = _local_midnight(filters.start)
    counts = events.aggregate(
        reassigned=Count("id", filter=Q(occurred_at__gte=start)), breaches=Count("id", filter=Q(occurred_at__gte=start, freeze_breach=True)),
        reassigned_before=Count("id", filter=Q(occurred_at__lt=start)),
        breaches_before=Count("id", filter=Q(occurred_at__lt=start, freeze_breach=True)))
    return {True: {"reassigned": counts["reassigned"], "breaches": counts["breaches"]},
            False: {"reassigned": counts["reassigned_before"], "breaches": counts["breaches_before"]}}


def _periods(filters: Filters):
    """(current?, start, end) as local datetimes for the period and the one before it."""
    previous = filters.previous
    return ((True, _local_midnight(filters.start), _local_midnight(filters.end + dt.timedelta(days=1))),
            (False, _local_midnight(previous.start), _local_midnight(previous.end + dt.timedelta(days=1))))


def unbind_request_figures(filters: Filters) -> dict[bool, dict] | None:
    """Unbind requests made in the period and the share of those due (answered, or past their deadline)
    that were done on time. Requests carry an app (so a platform) but no province, carrier or category."""
    from portal.models import UnbindRequest
    from portal.selectors import unbind_statistics

    if filters.province or filters.carrier or filters.category or filters.state:
        return None
    rows = UnbindRequest.objects.all()
    if filters.platform:
        rows = rows.filter(app__organisation_id=filters.platform)
    result = {}
    for current, start, end in _periods(filters):
        counts = unbind_statistics(since=start, until=end, requests=rows, with_due=True)
        share = round(100.0 * counts["done_on_time"] / counts["due"], 1) if counts["due"] else None
        result[current] = {"requests": counts["requests"], "on_time_share": share}
    return result


def recycling_notice_figures(filters: Filters, *, previous: bool = True) -> dict[bool, dict] | None:
    """Member apps notified of recycled numbers (distinct apps with a notice delivered in the period) and
    the bindings they reported removed. Notices carry an app but no province, carrier or category.
    Without `previous`, only the period itself (True) is counted."""
    from portal.models import NoticeDelivery
    from portal.selectors import notice_totals

    if filters.province or filters.carrier or filters.category or filters.state:
        return None
    rows = NoticeDelivery.objects.all()
    if filters.platform:
        rows = rows.filter(subscription__app__organisation_id=filters.platform)
    result = {}
    for current, start, end in _periods(filters):
        if current or previous:
            totals = notice_totals(since=start, until=end, deliveries=rows)
            result[current] = {"notified": totals["apps_notified"], "bindings_removed": totals["bindings_removed"]}
    return result


def _change(current, previous, *, points: bool = False) -> str:
    """The change against the previous period: percentage points for shares, per cent for counts."""
    if current is None or previous is None:
        return ""
    if points:
        return f"{current - previous:+.1f} pp"
    if not previous:
        return ""
    return f"{100.0 * (current - previous) / previous:+.0f}%"


def _figure(key: str, label: str, current, previous, *, unit: str = "", points: bool = False, available: bool = True,
            note: str = "") -> dict:
    return {"key": key, "label": label, "value": current, "previous": previous, "unit": unit, "available": available,
            "change": _change(current, previous, points=points), "note": note}


def statistics_headline(filters: Filters, figures: dict | None = None) -> list[dict]:
    """The headline figures for the period, each with the previous period's value and the change."""
    figures = figures or complaint_figures(filters, sets=((),))
    now, before = _totals(figures[()], True), _totals(figures[()], False)
    medians = median_days_to_answer(filters, figures)
    lookups = lookup_totals(filters)
    events = number_event_totals(filters)
    unbind = unbind_request_figures(filters)
    notices = recycling_notice_figures(filters)
    no_province = _("Not broken down by province.")

    def pick(source, key):
        return (source[True][key], source[False][key]) if source else (None, None)

    return [
        _figure("complaints", _("Complaints received"), now["received"], before["received"]),
        _figure("on_time", _("Answered on time"), on_time_share(now), on_time_share(before), unit="%", points=True),
        _figure("median_days", _("Median days to a final answer"), medians[True], medians[False]),
        _figure("satisfied", _("Holders satisfied"), satisfied_share(now), satisfied_share(before), unit="%", points=True),
        _figure("lookups", _("Lookups run"), *pick(lookups, "lookups"), available=lookups is not None,
                note="" if lookups else no_province),
        _figure("unbind_requests", _("Unbind requests"), *pick(unbind, "requests"), available=unbind is not None),
        _figure("unbind_on_time", _("Unbind requests done on time"), *pick(unbind, "on_time_share"), unit="%",
                points=True, available=unbind is not None),
        _figure("numbers_recycled", _("Numbers reported re-assigned"), *pick(events, "reassigned"),
                available=events is not None, note="" if events else no_province),
        _figure("members_notified", _("Members notified of recycled numbers"), *pick(notices, "notified"),
                available=notices is not None),
        _figure("bindings_removed", _("Bindings removed"), *pick(notices, "bindings_removed"), available=notices is not None),
        _figure("freeze_breaches", _("Freeze-period breaches"), *pick(events, "breaches"), available=events is not None,
                note="" if events else no_province),
    ]


# --- Breakdowns -------------------------------------------------------------------------------------------

def _buckets(filters: Filters) -> list[dt.date]:
    """Every bucket start of the period, so a chart has a column for empty buckets too."""
    def start_of(day: dt.date) -> dt.date:
        if filters.interval == "week":
            return day - dt.timedelta(days=day.weekday())
        if filters.interval == "month":
            return day.replace(day=1)
        if filters.interval == "quarter":
            return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
        if filters.interval == "year":
            return day.replace(month=1, day=1)
        return day

    buckets, day = [], start_of(filters.start)
    while day <= filters.end:
        buckets.append(day)
        if filters.interval == "day":
            day += dt.timedelta(days=1)
        elif filters.interval == "week":
            day += dt.timedelta(days=7)
        else:
            months = {"month": 1, "quarter": 3, "year": 12}[filters.interval]
            month = day.month - 1 + months
            day = dt.date(day.year + month // 12, month % 12 + 1, 1)
    return buckets


def bucket_label(day: dt.date, interval: str) -> str:
    if interval == "year":
        return f"{day.year}"
    if interval == "quarter":
        return f"{day.year} Q{(day.month - 1) // 3 + 1}"
    if interval == "month":
        return f"{day:%Y-%m}"
    return day.isoformat()


def _labels(lens: str, keys) -> dict:
    if lens == "category":
        return {k: str(Complaint.Category(k).label) if k in Complaint.Category.values else k for k in keys}
    if lens == "state":
        return {k: str(Complaint.State(k).label) if k in Complaint.State.values else k for k in keys}
    if lens == "province":
        return {k: str(Province(k).label) if k in Province.values else k for k in keys}
    names = dict(Organisation.objects.filter(pk__in=[k for k in keys if k]).values_list("pk", "legal_name"))
    return {k: names.get(k, _("Not a member")) if k else _("Not named") for k in keys}


def statistics_trend(filters: Filters, lens: str = "category", figures: dict | None = None) -> dict:
    """Complaints received per bucket (day ... year), one series per value of the lens."""
    column = LENSES[lens]
    figures = figures or complaint_figures(filters, sets=(("bucket", column),))
    buckets = _buckets(filters)
    index = {b: i for i, b in enumerate(buckets)}
    series: dict = defaultdict(lambda: [0] * len(buckets))
    for row in figures[("bucket", column)]:
        if row["current"] and row["bucket"] in index:
            series[row[column]][index[row["bucket"]]] += row["received"]
    labels = _labels(lens, series.keys())
    ordered = sorted(series.items(), key=lambda item: -sum(item[1]))
    return {
        "interval": filters.interval, "lens": lens, "buckets": buckets,
        "bucket_labels": [bucket_label(b, filters.interval) for b in buckets],
        "series": [{"key": str(key), "label": labels[key], "values": values} for key, values in ordered],
    }


def statistics_timeliness(filters: Filters, figures: dict | None = None) -> dict:
    """Per bucket: complaints received, and the share of those answered that were answered on time."""
    figures = figures or complaint_figures(filters, sets=(("bucket",),))
    buckets = _buckets(filters)
    rows = {row["bucket"]: row for row in figures[("bucket",)] if row["current"]}
    points = []
    for bucket in buckets:
        row = rows.get(bucket, dict.fromkeys(MEASURES, 0))
        points.append({"bucket": bucket, "label": bucket_label(bucket, filters.interval), "received": row["received"],
                       "answered": row["timely"] + row["untimely"], "on_time_share": on_time_share(row)})
    return {"interval": filters.interval, "points": points}


def _ranking(filters: Filters, column: str, lens: str, figures: dict | None) -> list[dict]:
    figures = figures or complaint_figures(filters, sets=((column,),))
    current = {row[column]: row for row in figures[(column,)] if row["current"]}
    before = {row[column]: row for row in figures[(column,)] if not row["current"]}
    labels = _labels(lens, current.keys())
    rows = []
    for key, row in current.items():
        previous = before.get(key, {}).get("received", 0)
        rows.append({
            "key": str(key) if key is not None else "", "label": labels[key], "complaints": row["received"],
            "previous": previous, "change": _change(row["received"], previous), "answered": row["answered"],
            "on_time_share": on_time_share(row), "satisfied_share": satisfied_share(row),
            "escalated": row["escalated"],
        })
    rows.sort(key=lambda r: -r["complaints"])
    return rows


def _per_100k(rows: list[dict], sizes: dict, *, floor: int) -> None:
    """Complaints per 100,000 of the size measure, only for rows at or above the floor (others unranked)."""
    for row in rows:
        size = sizes.get(row["key"], 0)
        row["size"] = size
        row["per_100k"] = round(100000.0 * row["complaints"] / size, 1) if size >= floor and size else None
    ranked = sorted((r for r in rows if r["per_100k"] is not None), key=lambda r: -r["per_100k"])
    for position, row in enumerate(ranked, 1):
        row["rank"] = position
    for row in rows:
        row.setdefault("rank", None)


def statistics_by_platform(filters: Filters, figures: dict | None = None) -> list[dict]:
    """Complaints per platform (organisation), raw and per 100,000 lookups that asked its apps; platforms
    asked fewer than STATISTICS_RANKING_MIN_LOOKUPS times in the period are not ranked. With a province
    filter there is no rate (lookups carry no province)."""
    rows = _ranking(filters, "organisation_id", "platform", figures)
    sizes = {}
    if not filters.province:
        with connection.cursor() as cursor:
            cursor.execute("SELECT organisation_id, sum(asked) FROM complaints_lookupappday WHERE day >= %s AND day <= %s "
                           "GROUP BY 1", [filters.start, filters.end])
            sizes = {str(org): int(asked) for org, asked in cursor.fetchall()}
    _per_100k(rows, sizes, floor=settings.STATISTICS_RANKING_MIN_LOOKUPS if sizes else 1)
    return rows


def statistics_by_carrier(filters: Filters, figures: dict | None = None) -> list[dict]:
    """Complaints per carrier, raw and per 100,000 numbers the carrier reported re-assigned in the period
    (lookups carry no carrier); the same size floor applies."""
    rows = _ranking(filters, "carrier_id", "carrier", figures)
    sizes = {}
    if not filters.province:
        counts = NumberEvent.objects.filter(
            type=NumberEvent.Type.REASSIGNED, occurred_at__gte=_local_midnight(filters.start),
            occurred_at__lt=_local_midnight(filters.end + dt.timedelta(days=1))).values("carrier_id").annotate(n=Count("id"))
        sizes = {str(c["carrier_id"]): c["n"] for c in counts}
    _per_100k(rows, sizes, floor=settings.STATISTICS_RANKING_MIN_LOOKUPS if sizes else 1)
    return rows


def statistics_by_province(filters: Filters, figures: dict | None = None) -> list[dict]:
    return _ranking(filters, "province", "province", figures)


def statistics_by_category(filters: Filters, figures: dict | None = None) -> list[dict]:
    return _ranking(filters, "category", "category", figures)


DASHBOARD_SETS = ((), ("bucket", "category"), ("bucket",), ("organisation_id",), ("carrier_id",), ("province",),
                  ("category",))


def statistics_dashboard(filters: Filters) -> dict:
    """Everything the regulator's dashboard shows, from one scan of the rollup."""
    figures = complaint_figures(filters, sets=DASHBOARD_SETS)
    return {
        "headline": statistics_headline(filters, figures), "trend": statistics_trend(filters, "category", figures),
        "timeliness": statistics_timeliness(filters, figures), "platforms": statistics_by_platform(filters, figures),
        "carriers": statistics_by_carrier(filters, figures), "provinces": statistics_by_province(filters, figures),
        "categories": statistics_by_category(filters, figures),
    }


def quarter_bounds(year: int, quarter: int) -> tuple[dt.date, dt.date]:
    start = dt.date(year, 3 * quarter - 2, 1)
    end = dt.date(year + (quarter == 4), (3 * quarter) % 12 + 1, 1) - dt.timedelta(days=1)
    return start, end


def statistics_quarterly(filters: Filters) -> dict:
    """The quarterly notice: totals, per-company rates, top categories, notable changes (the largest
    rises and falls by province and category against the previous quarter)."""
    figures = complaint_figures(filters, sets=((), ("organisation_id",), ("carrier_id",), ("province",), ("category",)))
    provinces = statistics_by_province(filters, figures)
    categories = statistics_by_category(filters, figures)
    changes = [dict(row, lens=_("Province")) for row in provinces] + [dict(row, lens=_("Category")) for row in categories]
    changes = [row for row in changes if row["previous"] or row["complaints"]]
    changes.sort(key=lambda row: -abs(row["complaints"] - row["previous"]))
    return {
        "headline": statistics_headline(filters, figures), "platforms": statistics_by_platform(filters, figures),
        "carriers": statistics_by_carrier(filters, figures), "categories": categories[:5], "provinces": provinces,
        "changes": changes[:6],
    }


# --- The case CSV (no personal data) ----------------------------------------------------------------------

CASE_COLUMNS = ["Complaint ID", "Date received", "Issue", "Platform", "App", "Carrier", "Province", "State",
                "Date sent to company", "Company response", "Relief", "Date of final answer", "Timely response?",
                "Escalated", "Holder feedback", "Satisfaction"]


def statistics_case_rows(filters: Filters):
    """Every case in the filters, one list per row, streamed from a server-side cursor. Only the fields
    regulators count: never the number, the e-mail, the narrative or the answer's text."""
    orgs = dict(Organisation.objects.values_list("pk", "legal_name"))
    apps = dict(MemberApp.objects.values_list("pk", "name"))
    provinces = dict(Province.choices)
    queryset = Complaint.objects.filter(
        merged_into__isnull=True, received_at__gte=_local_midnight(filters.start),
        received_at__lt=_local_midnight(filters.end + dt.timedelta(days=1)),
        **{column: value for column, value in filters.conditions()},
    ).order_by("received_at").annotate(
        received_on=TruncDate("received_at"), sent_on=TruncDate("sent_at"), answered_on=TruncDate("answered_at"),
    ).values_list("reference", "received_on", "category", "organisation_id", "app_id", "respondent_name", "carrier_id",
                  "province", "state", "sent_on", "answer", "relief", "answered_on", "timely", "escalated_at", "feedback",
                  "feedback_score")
    yield CASE_COLUMNS
    for (reference, received, category, org, app, respondent, carrier, province, state, sent, answer, relief, answered,
         timely, escalated, feedback, score) in queryset.iterator(chunk_size=5000):
        yield [reference, received, category, orgs.get(org, respondent), apps.get(app, ""), orgs.get(carrier, ""),
               provinces.get(province, province), state, sent or "", answer, relief, answered or "",
               "" if timely is None else ("Yes" if timely else "No"), "Yes" if escalated else "No", feedback, score or ""]


# --- Open data (public, aggregates only) ------------------------------------------------------------------

def suppress(value, minimum: int | None = None):
    """A count under the threshold is not shown (None), so no one can be picked out."""
    minimum = settings.STATISTICS_PUBLIC_MIN_CELL if minimum is None else minimum
    return value if value is None or value >= minimum else None


def suppress_table(rows: list[dict], measure: str = "complaints") -> list[dict]:
    """Suppress every cell under the threshold; if that hides exactly one cell of the table, hide the next
    smallest too, so the total minus the others does not give the hidden one away."""
    hidden = [r for r in rows if suppress(r[measure]) is None]
    if len(hidden) == 1 and hidden[0][measure]:
        shown = [r for r in rows if r not in hidden]
        if shown:
            hidden.append(min(shown, key=lambda r: r[measure]))
    return [dict(r, **{measure: None}) if any(r is h for h in hidden) else r for r in rows]


def statistics_public(filters: Filters) -> dict:
    """The public tables: complaints by month, category, platform and province, timeliness per platform.
    Every count under STATISTICS_PUBLIC_MIN_CELL is suppressed (None), with one more cell when a single one
    would be given away by the total; a share is shown only when the cases behind it are enough."""
    filters = replace(filters, province="", carrier=None, platform=None, category="", state="", interval="month")
    figures = complaint_figures(filters, sets=((), ("bucket",), ("category",), ("organisation_id",), ("province",)))
    total = _totals(figures[()], True)
    months = statistics_timeliness(filters, figures)["points"]

    def rows(ranking):
        return suppress_table([{"key": r["key"], "label": r["label"], "complaints": r["complaints"]} for r in ranking])

    platforms = suppress_table([{
        "key": r["key"], "label": r["label"], "complaints": r["complaints"], "answered": r["answered"],
        "on_time_share": r["on_time_share"],
    } for r in _ranking(filters, "organisation_id", "platform", figures)])
    platforms = suppress_table(platforms, "answered")
    for row in platforms:
        if row["answered"] is None:
            row["on_time_share"] = None
    notices = recycling_notice_figures(filters, previous=False)
    return {
        "period": {"from": filters.start, "to": filters.end},
        "threshold": settings.STATISTICS_PUBLIC_MIN_CELL,
        "total": suppress(total["received"]),
        "by_month": suppress_table([{"key": p["bucket"].isoformat(), "label": p["label"], "complaints": p["received"]}
                                    for p in months]),
        "by_category": rows(statistics_by_category(filters, figures)),
        "by_platform": platforms,
        "by_province": rows(statistics_by_province(filters, figures)),
        "recycling_notices": None if notices is None else {
            "members_notified": suppress(notices[True]["notified"]), "bindings_removed": suppress(notices[True]["bindings_removed"])},
    }


PUBLIC_TABLES = ("by_month", "by_category", "by_platform", "by_province")


def statistics_public_rows(data: dict):
    """The public tables as one long CSV: table, key, label, measure, value (empty when suppressed)."""
    yield ["table", "key", "label", "measure", "value"]
    yield ["total", "", "", "complaints", "" if data["total"] is None else data["total"]]
    for table in PUBLIC_TABLES:
        for row in data[table]:
            for measure in ("complaints", "answered", "on_time_share"):
                if measure in row:
                    yield [table, row["key"], row["label"], measure, "" if row[measure] is None else row[measure]]
