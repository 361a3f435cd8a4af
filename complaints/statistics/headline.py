"""The headline figures of a period, each with the previous period's value: complaints, timeliness, the
median days to a final answer, satisfaction, and what other rows tell about recycled numbers (lookups, number
events, unbind requests, recycling notices). Only the median beyond the histogram reads the case rows."""

import datetime as dt

from django.db import connection
from django.db.models import Count, Q
from django.utils.translation import gettext as _

from complaints.statistics.figures import change, complaint_figures, on_time_share, satisfied_share, totals
from complaints.statistics.filters import Filters, local_midnight, periods
from portal.notices.models import NoticeDelivery
from portal.notices.selectors import notice_totals
from portal.recycling.models import NumberEvent
from portal.unbinding.models import UnbindRequest
from portal.unbinding.selectors import unbind_statistics


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
    where = ["merged_into_id IS NULL", "answered_at IS NOT NULL", "received_at >= %(low)s", "received_at < %(high)s"]
    params = {"low": local_midnight(filters.start), "high": local_midnight(filters.end + dt.timedelta(days=1))}
    for column, value in filters.conditions():
        where.append(f"{column} = %({column})s")
        params[column] = value
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY floor(extract(epoch FROM answered_at - received_at) "
            f"/ 86400)) FROM complaints_complaint WHERE {' AND '.join(where)}",
            params,
        )
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
        cursor.execute(
            "SELECT day >= %s, sum(lookups), sum(with_accounts) FROM complaints_lookupday "
            "WHERE day >= %s AND day <= %s GROUP BY 1",
            [filters.start, previous.start, filters.end],
        )
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
        type=NumberEvent.Type.REASSIGNED,
        occurred_at__gte=local_midnight(previous.start),
        occurred_at__lt=local_midnight(filters.end + dt.timedelta(days=1)),
    )
    if filters.carrier:
        events = events.filter(carrier_id=filters.carrier)
    start = local_midnight(filters.start)
    counts = events.aggregate(
        reassigned=Count("id", filter=Q(occurred_at__gte=start)),
        breaches=Count("id", filter=Q(occurred_at__gte=start, freeze_breach=True)),
        reassigned_before=Count("id", filter=Q(occurred_at__lt=start)),
        breaches_before=Count("id", filter=Q(occurred_at__lt=start, freeze_breach=True)),
    )
    return {
        True: {"reassigned": counts["reassigned"], "breaches": counts["breaches"]},
        False: {"reassigned": counts["reassigned_before"], "breaches": counts["breaches_before"]},
    }


def _app_rows(rows, app: str, filters: Filters):
    """Unbind requests and notices carry an app (so a platform) but no province, carrier, category or state:
    their rows for the filters, or None when a filter they cannot answer is set."""
    if filters.province or filters.carrier or filters.category or filters.state:
        return None
    return rows.filter(**{f"{app}__organisation_id": filters.platform}) if filters.platform else rows


def unbind_request_figures(filters: Filters) -> dict[bool, dict] | None:
    """Unbind requests made in the period and the share of those due (answered, or past their deadline)
    that were done on time. Requests carry an app (so a platform) but no province, carrier or category."""
    rows = _app_rows(UnbindRequest.objects.all(), "app", filters)
    if rows is None:
        return None
    result = {}
    for current, start, end in periods(filters):
        counts = unbind_statistics(since=start, until=end, requests=rows, with_due=True)
        share = round(100.0 * counts["done_on_time"] / counts["due"], 1) if counts["due"] else None
        result[current] = {"requests": counts["requests"], "on_time_share": share}
    return result


def recycling_notice_figures(filters: Filters, *, previous: bool = True) -> dict[bool, dict] | None:
    """Member apps notified of recycled numbers (distinct apps with a notice delivered in the period) and
    the bindings they reported removed. Notices carry an app but no province, carrier or category.
    Without `previous`, only the period itself (True) is counted."""
    rows = _app_rows(NoticeDelivery.objects.all(), "subscription__app", filters)
    if rows is None:
        return None
    result = {}
    for current, start, end in periods(filters):
        if current or previous:
            found = notice_totals(since=start, until=end, deliveries=rows)
            result[current] = {"notified": found["apps_notified"], "bindings_removed": found["bindings_removed"]}
    return result


def _figure(
    key: str,
    label: str,
    current,
    previous,
    *,
    unit: str = "",
    points: bool = False,
    available: bool = True,
    note: str = "",
) -> dict:
    return {
        "key": key,
        "label": label,
        "value": current,
        "previous": previous,
        "unit": unit,
        "available": available,
        "change": change(current, previous, points=points),
        "note": note,
    }


def _pick(source, key):
    """A figure's value in the period and the one before, or nothing when the source has no such figure."""
    return (source[True][key], source[False][key]) if source else (None, None)


def statistics_headline(filters: Filters, figures: dict | None = None) -> list[dict]:
    """The headline figures for the period, each with the previous period's value and the change."""
    figures = figures or complaint_figures(filters, sets=((),))
    now, before = totals(figures[()], True), totals(figures[()], False)
    medians = median_days_to_answer(filters, figures)
    return [
        _figure("complaints", _("Complaints received"), now["received"], before["received"]),
        _figure("on_time", _("Answered on time"), on_time_share(now), on_time_share(before), unit="%", points=True),
        _figure("median_days", _("Median days to a final answer"), medians[True], medians[False]),
        _figure(
            "satisfied", _("Holders satisfied"), satisfied_share(now), satisfied_share(before), unit="%", points=True
        ),
        *_other_rows_figures(filters),
    ]


def _other_rows_figures(filters: Filters) -> list[dict]:
    """The headline figures read from rows other than complaints, in the order the dashboard shows them."""
    lookups = lookup_totals(filters)
    events = number_event_totals(filters)
    unbind = unbind_request_figures(filters)
    notices = recycling_notice_figures(filters)
    no_province = _("Not broken down by province.")
    return [
        _figure(
            "lookups",
            _("Lookups run"),
            *_pick(lookups, "lookups"),
            available=lookups is not None,
            note="" if lookups else no_province,
        ),
        _figure("unbind_requests", _("Unbind requests"), *_pick(unbind, "requests"), available=unbind is not None),
        _figure(
            "unbind_on_time",
            _("Unbind requests done on time"),
            *_pick(unbind, "on_time_share"),
            unit="%",
            points=True,
            available=unbind is not None,
        ),
        _figure(
            "numbers_recycled",
            _("Numbers reported re-assigned"),
            *_pick(events, "reassigned"),
            available=events is not None,
            note="" if events else no_province,
        ),
        _figure(
            "members_notified",
            _("Members notified of recycled numbers"),
            *_pick(notices, "notified"),
            available=notices is not None,
        ),
        _figure(
            "bindings_removed",
            _("Bindings removed"),
            *_pick(notices, "bindings_removed"),
            available=notices is not None,
        ),
        _figure(
            "freeze_breaches",
            _("Freeze-period breaches"),
            *_pick(events, "breaches"),
            available=events is not None,
            note="" if events else no_province,
        ),
    ]
