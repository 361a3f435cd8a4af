"""Figures over time: complaints received per bucket (day ... year), one series per value of a lens, and
the share answered on time per bucket."""

from collections import defaultdict

from complaints.statistics.figures import complaint_figures, on_time_share, value_labels
from complaints.statistics.filters import LENSES, Filters, bucket_label, buckets
from complaints.statistics.rollups import MEASURES


def statistics_trend(filters: Filters, lens: str = "category", figures: dict | None = None) -> dict:
    """Complaints received per bucket (day ... year), one series per value of the lens."""
    column = LENSES[lens]
    figures = figures or complaint_figures(filters, sets=(("bucket", column),))
    starts = buckets(filters)
    index = {b: i for i, b in enumerate(starts)}
    series: dict = defaultdict(lambda: [0] * len(starts))
    for row in figures[("bucket", column)]:
        if row["current"] and row["bucket"] in index:
            series[row[column]][index[row["bucket"]]] += row["received"]
    labels = value_labels(lens, series.keys())
    ordered = sorted(series.items(), key=lambda item: -sum(item[1]))
    return {
        "interval": filters.interval,
        "lens": lens,
        "buckets": starts,
        "bucket_labels": [bucket_label(b, filters.interval) for b in starts],
        "series": [{"key": str(key), "label": labels[key], "values": values} for key, values in ordered],
    }


def statistics_timeliness(filters: Filters, figures: dict | None = None) -> dict:
    """Per bucket: complaints received, and the share of those answered that were answered on time."""
    figures = figures or complaint_figures(filters, sets=(("bucket",),))
    rows = {row["bucket"]: row for row in figures[("bucket",)] if row["current"]}
    points = []
    for bucket in buckets(filters):
        row = rows.get(bucket, dict.fromkeys(MEASURES, 0))
        points.append(
            {
                "bucket": bucket,
                "label": bucket_label(bucket, filters.interval),
                "received": row["received"],
                "answered": row["timely"] + row["untimely"],
                "on_time_share": on_time_share(row),
            }
        )
    return {"interval": filters.interval, "points": points}
