"""Complaints by platform, carrier, province and category against the previous period; platforms and
carriers also per 100,000 of a size measure (lookups that asked them, numbers they re-assigned)."""

import datetime as dt

from django.conf import settings
from django.db import connection
from django.db.models import Count

from complaints.statistics.figures import change, complaint_figures, on_time_share, satisfied_share, value_labels
from complaints.statistics.filters import Filters, local_midnight
from portal.recycling.models import NumberEvent


def ranking(filters: Filters, column: str, lens: str, figures: dict | None) -> list[dict]:
    """One row per value of the rollup column, the most complaints first."""
    figures = figures or complaint_figures(filters, sets=((column,),))
    current = {row[column]: row for row in figures[(column,)] if row["current"]}
    before = {row[column]: row for row in figures[(column,)] if not row["current"]}
    labels = value_labels(lens, current.keys())
    rows = []
    for key, row in current.items():
        previous = before.get(key, {}).get("received", 0)
        rows.append(
            {
                "key": str(key) if key is not None else "",
                "label": labels[key],
                "complaints": row["received"],
                "previous": previous,
                "change": change(row["received"], previous),
                "answered": row["answered"],
                "on_time_share": on_time_share(row),
                "satisfied_share": satisfied_share(row),
                "escalated": row["escalated"],
            }
        )
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
    rows = ranking(filters, "organisation_id", "platform", figures)
    sizes = {}
    if not filters.province:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT organisation_id, sum(asked) FROM complaints_lookupappday WHERE day >= %s AND day <= %s "
                "GROUP BY 1",
                [filters.start, filters.end],
            )
            sizes = {str(org): int(asked) for org, asked in cursor.fetchall()}
    _per_100k(rows, sizes, floor=settings.STATISTICS_RANKING_MIN_LOOKUPS if sizes else 1)
    return rows


def statistics_by_carrier(filters: Filters, figures: dict | None = None) -> list[dict]:
    """Complaints per carrier, raw and per 100,000 numbers the carrier reported re-assigned in the period
    (lookups carry no carrier); the same size floor applies."""
    rows = ranking(filters, "carrier_id", "carrier", figures)
    sizes = {}
    if not filters.province:
        counts = (
            NumberEvent.objects.filter(
                type=NumberEvent.Type.REASSIGNED,
                occurred_at__gte=local_midnight(filters.start),
                occurred_at__lt=local_midnight(filters.end + dt.timedelta(days=1)),
            )
            .values("carrier_id")
            .annotate(n=Count("id"))
        )
        sizes = {str(c["carrier_id"]): c["n"] for c in counts}
    _per_100k(rows, sizes, floor=settings.STATISTICS_RANKING_MIN_LOOKUPS if sizes else 1)
    return rows


def statistics_by_province(filters: Filters, figures: dict | None = None) -> list[dict]:
    return ranking(filters, "province", "province", figures)


def statistics_by_category(filters: Filters, figures: dict | None = None) -> list[dict]:
    return ranking(filters, "category", "category", figures)
