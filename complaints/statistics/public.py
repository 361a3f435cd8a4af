"""Open data for the public: aggregates only, every count under STATISTICS_PUBLIC_MIN_CELL suppressed, as
a page, a CSV and JSON."""

from dataclasses import replace

from django.conf import settings

from complaints.statistics.figures import complaint_figures, totals
from complaints.statistics.filters import Filters
from complaints.statistics.headline import recycling_notice_figures
from complaints.statistics.rankings import ranking, statistics_by_category, statistics_by_province
from complaints.statistics.trends import statistics_timeliness

PUBLIC_SETS = ((), ("bucket",), ("category",), ("organisation_id",), ("province",))
PUBLIC_TABLES = ("by_month", "by_category", "by_platform", "by_province")


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


def _counts(ranked: list[dict]) -> list[dict]:
    """A public table of complaints per value, suppressed."""
    return suppress_table([{"key": r["key"], "label": r["label"], "complaints": r["complaints"]} for r in ranked])


def _platforms(filters: Filters, figures: dict) -> list[dict]:
    """Complaints and timeliness per platform; a share is shown only when the answers behind it are shown."""
    platforms = suppress_table(
        [
            {
                "key": r["key"],
                "label": r["label"],
                "complaints": r["complaints"],
                "answered": r["answered"],
                "on_time_share": r["on_time_share"],
            }
            for r in ranking(filters, "organisation_id", "platform", figures)
        ]
    )
    platforms = suppress_table(platforms, "answered")
    for row in platforms:
        if row["answered"] is None:
            row["on_time_share"] = None
    return platforms


def statistics_public(filters: Filters) -> dict:
    """The public tables: complaints by month, category, platform and province, timeliness per platform.
    Every count under STATISTICS_PUBLIC_MIN_CELL is suppressed (None), with one more cell when a single one
    would be given away by the total; a share is shown only when the cases behind it are enough."""
    filters = replace(filters, province="", carrier=None, platform=None, category="", state="", interval="month")
    figures = complaint_figures(filters, sets=PUBLIC_SETS)
    total = totals(figures[()], True)
    months = statistics_timeliness(filters, figures)["points"]
    by_month = [{"key": p["bucket"].isoformat(), "label": p["label"], "complaints": p["received"]} for p in months]
    notices = recycling_notice_figures(filters, previous=False)
    return {
        "period": {"from": filters.start, "to": filters.end},
        "threshold": settings.STATISTICS_PUBLIC_MIN_CELL,
        "total": suppress(total["received"]),
        "by_month": suppress_table(by_month),
        "by_category": _counts(statistics_by_category(filters, figures)),
        "by_platform": _platforms(filters, figures),
        "by_province": _counts(statistics_by_province(filters, figures)),
        "recycling_notices": None
        if notices is None
        else {
            "members_notified": suppress(notices[True]["notified"]),
            "bindings_removed": suppress(notices[True]["bindings_removed"]),
        },
    }


def statistics_public_rows(data: dict):
    """The public tables as one long CSV: table, key, label, measure, value (empty when suppressed)."""
    yield ["table", "key", "label", "measure", "value"]
    yield ["total", "", "", "complaints", "" if data["total"] is None else data["total"]]
    for table in PUBLIC_TABLES:
        for row in data[table]:
            for measure in ("complaints", "answered", "on_time_share"):
                if measure in row:
                    yield [table, row["key"], row["label"], measure, "" if row[measure] is None else row[measure]]
