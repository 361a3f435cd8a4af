"""Reading the complaint rollups: one SQL scan with GROUPING SETS answers a whole dashboard, the period and
the one before it, grouped every way the page shows. Also the small arithmetic every figure shares (totals,
shares, changes) and the labels of the values a figure is grouped by."""

import datetime as dt

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from complaints.models import Complaint
from complaints.statistics.filters import Filters, next_month
from complaints.statistics.rollups import ALL_DIMS, DAY_COLUMNS, DIM_BITS, MEASURES, ROLLUP_COLUMNS, ROLLUP_DIMS
from portal.core.regions import Province
from registry.models import Organisation

OUTPUT_DIMS = [
    ("bucket", "date"),
    ("province", "varchar"),
    ("category", "varchar"),
    ("state", "varchar"),
    ("organisation_id", "bigint"),
    ("carrier_id", "bigint"),
]
OUTPUT_NAMES = [d for d, _k in OUTPUT_DIMS]


def _sources(start: dt.date, end: dt.date, interval: str) -> list[tuple[str, dt.date, dt.date]]:
    """Which rollup answers which days: whole months inside the period from the monthly rollup (when the
    buckets are months or longer), the days at either end from the daily one. The month that ends the
    period is whole when the period runs to today (nothing was received after it)."""
    if interval in ("day", "week"):
        return [("complaints_complaintday", start, end)]
    first_whole = start if start.day == 1 else next_month(start)
    month_done = next_month(end) - dt.timedelta(days=1) == end or end >= timezone.localdate()
    end_whole = next_month(end) if month_done else end.replace(day=1)
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


def complaint_figures(filters: Filters, *, sets: tuple[tuple[str, ...], ...]) -> dict[tuple, list[dict]]:
    """The rollups summed over the period and the one before it, grouped by each set of dimensions
    (`bucket` = the period's interval, or rollup columns), in one statement: the sets that read the same
    cube rows share one scan (GROUPING SETS). Returns {set: [row, ...]}, each row with `current` (this
    period or the previous one), the set's dimensions and the measures; the totals set `()` also carries
    the histogram of days to a final answer."""
    params = {"start": filters.start, "interval": filters.interval}
    conditions = ""
    for column, value in filters.conditions():
        conditions += f" AND {column} = %({column})s"
        params[column] = value
    ranges = _ranges(filters, params)
    selects, decode = [], {}
    for scan, (mask, indexes) in enumerate(_scans(filters, sets).items()):
        rows = " UNION ALL ".join(
            f"SELECT day, {ROLLUP_DIMS}, {ROLLUP_COLUMNS} FROM {table} "
            f"WHERE dims = {mask} AND day >= {low} AND day <= {high}{conditions}"
            for table, low, high in ranges
        )
        selects.append(_scan_select(scan, [sets[i] for i in indexes], rows))
        used = _used_dims([sets[i] for i in indexes])
        for i in indexes:  # GROUPING() sets a bit for every dimension not grouped by, the first one highest
            decode[(scan, sum(1 << (len(used) - 1 - n) for n, d in enumerate(used) if d not in sets[i]))] = i
    result: dict[tuple, list[dict]] = {group: [] for group in sets}
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(selects), params)
        for row in cursor.fetchall():
            group = sets[decode[(row[0], row[1])]]
            result[group].append(_record(group, row))
    return result


def _ranges(filters: Filters, params: dict) -> list[tuple[str, str, str]]:
    """(table, low placeholder, high placeholder) for every rollup read by the period and the one before;
    the dates go into `params`."""
    ranges = []
    for period in (filters.previous, filters):
        for table, low, high in _sources(period.start, period.end, filters.interval):
            params[f"low{len(ranges)}"], params[f"high{len(ranges)}"] = low, high
            ranges.append((table, f"%(low{len(ranges)})s", f"%(high{len(ranges)})s"))
    return ranges


def _scans(filters: Filters, sets) -> dict[int, list[int]]:
    """The sets (by index) each cube mask answers: one scan per mask."""
    by_mask: dict[int, list[int]] = {}
    for index, group in enumerate(sets):
        mask = _cube_mask([d for d in group if d != "bucket"] + [c for c, _v in filters.conditions()])
        by_mask.setdefault(mask, []).append(index)
    return by_mask


def _used_dims(groups) -> list[str]:
    return [d for d in OUTPUT_NAMES if any(d in group for group in groups)]


def _scan_select(scan: int, groups, rows: str) -> str:
    """One scan of the rollup rows, summed by GROUPING SETS over the period flag and each group."""
    used = _used_dims(groups)
    outputs = [d if d in used else f"NULL::{kind}" for d, kind in OUTPUT_DIMS]
    histogram = any(not group for group in groups)
    sums = [f"sum({m})::bigint" for m in MEASURES] + [
        f"sum({c})::bigint" if histogram else "NULL::bigint" for c in DAY_COLUMNS
    ]
    grouping_sets = ", ".join("(" + ", ".join(["current", *group]) + ")" for group in groups)
    return (
        f"(SELECT {scan}, GROUPING({', '.join(used) or 'current'}), current, {', '.join(outputs)}, "
        f"{', '.join(sums)} "
        f"FROM (SELECT *, day >= %(start)s AS current, date_trunc(%(interval)s, day::timestamp)::date AS bucket "
        f"FROM ({rows}) u) r GROUP BY GROUPING SETS ({grouping_sets}))"
    )


def _record(group: tuple, row) -> dict:
    values = dict(zip(OUTPUT_NAMES, row[3:9]))
    record = {"current": row[2], **{d: values[d] for d in group}}
    record.update(zip(MEASURES, row[9 : 9 + len(MEASURES)]))
    if not group:
        record["answer_days"] = list(row[9 + len(MEASURES) :])
    return record


# --- Arithmetic every figure shares -----------------------------------------------------------------------


def totals(rows: list[dict], current: bool) -> dict:
    summed = dict.fromkeys(MEASURES, 0)
    for row in rows:
        if row["current"] == current:
            for m in MEASURES:
                summed[m] += row[m]
    return summed


def _share(part, whole) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def on_time_share(row: dict) -> float | None:
    return _share(row["timely"], row["timely"] + row["untimely"])


def satisfied_share(row: dict) -> float | None:
    return _share(row["satisfied"], row["rated"])


def change(current, previous, *, points: bool = False) -> str:
    """The change against the previous period: percentage points for shares, per cent for counts."""
    if current is None or previous is None:
        return ""
    if points:
        return f"{current - previous:+.1f} pp"
    if not previous:
        return ""
    return f"{100.0 * (current - previous) / previous:+.0f}%"


def value_labels(lens: str, keys) -> dict:
    """What to call each value of a lens (category, state, province, or an organisation's id)."""
    if lens == "category":
        return {k: str(Complaint.Category(k).label) if k in Complaint.Category.values else k for k in keys}
    if lens == "state":
        return {k: str(Complaint.State(k).label) if k in Complaint.State.values else k for k in keys}
    if lens == "province":
        return {k: str(Province(k).label) if k in Province.values else k for k in keys}
    names = dict(Organisation.objects.filter(pk__in=[k for k in keys if k]).values_list("pk", "legal_name"))
    return {k: names.get(k, _("Not a member")) if k else _("Not named") for k in keys}
