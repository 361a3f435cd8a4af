"""Statistics pages: the regulator's dashboard, its CSV tables and case CSV, the quarterly report (staff,
`/staff/statistics/`), and the public open-data page with its CSV and JSON (`/statistics/`). Views parse the
filters, call one selector of the `complaints.statistics` package, and render."""

import datetime as dt
import itertools
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from complaints.statistics import charts, renewals
from complaints.statistics.filters import (
    Filters,
    default_period,
    quarter_bounds,
    statistics_filters_for_user,
    statistics_reader,
)
from complaints.statistics.forms import StatisticsFilterForm
from complaints.statistics.headline import statistics_headline
from complaints.statistics.public import statistics_public, statistics_public_rows
from complaints.statistics.rankings import (
    statistics_by_carrier,
    statistics_by_category,
    statistics_by_platform,
    statistics_by_province,
)
from complaints.statistics.reports import statistics_case_rows, statistics_dashboard, statistics_quarterly
from complaints.statistics.trends import statistics_timeliness, statistics_trend
from portal.core.csv_export import csv_response
from portal.core.regions import Province


def filters_for_request(request) -> tuple[StatisticsFilterForm, Filters]:
    """The filters a staff request asks for, through the one scoping function."""
    if not statistics_reader(request.user):
        raise Http404
    form = StatisticsFilterForm(request.GET, province_fixed=request.user.province if request.user.province else "")
    filters = statistics_filters_for_user(user=request.user, filters=form.filters())
    return form, filters


def _requested_province(request) -> str:
    """The province a staff request asks for, read as the filter form reads it: the user's own when they have
    one, else a valid `province` parameter."""
    if request.user.province:
        return request.user.province
    province = request.GET.get("province", "")
    return province if province in Province.values else ""


def _query(filters: Filters) -> str:
    params = {"start": filters.start.isoformat(), "end": filters.end.isoformat(), "interval": filters.interval}
    params.update(
        {
            name: value
            for name, value in (
                ("province", filters.province),
                ("carrier", filters.carrier),
                ("platform", filters.platform),
                ("category", filters.category),
                ("state", filters.state),
            )
            if value
        }
    )
    return urlencode(params)


@login_required
def dashboard(request):
    form, filters = filters_for_request(request)
    data = statistics_dashboard(filters)
    legend = [{"label": s["label"], "swatch": charts.swatch(i)} for i, s in enumerate(data["trend"]["series"][:9])]
    context = {
        "form": form,
        "filters": filters,
        "query": _query(filters),
        **data,
        "legend": legend,
        **_dashboard_charts(data),
        "ranking_floor": settings.STATISTICS_RANKING_MIN_LOOKUPS,
        "renewals": renewals.renewal_rows(filters),  # carriers' renewals (portal/carrier/)
        "province_label": dict(Province.choices).get(filters.province, ""),
        "interval_widened": form.data.get("interval") not in ("", None, filters.interval),
    }
    return render(request, "complaints/statistics/dashboard.html", context)


def _dashboard_charts(data: dict) -> dict:
    trend, points = data["trend"], data["timeliness"]["points"]
    return {
        "trend_chart": charts.stacked_columns(trend["bucket_labels"], trend["series"], title=_("Complaints over time")),
        "timeliness_chart": charts.line_chart(
            [p["label"] for p in points], [p["on_time_share"] for p in points], title=_("Answered on time")
        ),
        "platform_chart": charts.bar_chart(data["platforms"], value="complaints", title=_("Complaints by platform")),
        "platform_rate_chart": charts.bar_chart(
            [r for r in data["platforms"] if r["rank"]], value="per_100k", title=_("Complaints per 100,000 lookups")
        ),
        "carrier_chart": charts.bar_chart(data["carriers"], value="complaints", title=_("Complaints by carrier")),
        "province_chart": charts.bar_chart(data["provinces"], value="complaints", title=_("Complaints by province")),
    }


RANKING_COLUMNS = [
    "key",
    "label",
    "complaints",
    "previous",
    "change",
    "answered",
    "on_time_share",
    "satisfied_share",
    "escalated",
]
TABLES = {
    # name: (selector, columns)
    "headline": (statistics_headline, ["key", "label", "value", "previous", "change", "unit", "available"]),
    "platforms": (statistics_by_platform, [*RANKING_COLUMNS, "size", "per_100k", "rank"]),
    "carriers": (statistics_by_carrier, [*RANKING_COLUMNS, "size", "per_100k", "rank"]),
    "provinces": (statistics_by_province, RANKING_COLUMNS),
    "categories": (statistics_by_category, RANKING_COLUMNS),
}


def _table_rows(name: str, filters: Filters):
    if name == "trend":
        trend = statistics_trend(filters, "category")
        yield ["bucket", *[s["label"] for s in trend["series"]]]
        for i, label in enumerate(trend["bucket_labels"]):
            yield [label, *[s["values"][i] for s in trend["series"]]]
        return
    if name == "timeliness":
        yield ["bucket", "received", "answered", "on_time_share"]
        for p in statistics_timeliness(filters)["points"]:
            share = "" if p["on_time_share"] is None else p["on_time_share"]
            yield [p["label"], p["received"], p["answered"], share]
        return
    selector, columns = TABLES[name]
    yield columns
    for row in selector(filters):
        yield ["" if row.get(c) is None else row.get(c) for c in columns]


@login_required
def table_csv(request, table: str):
    if table not in TABLES and table not in ("trend", "timeliness"):
        raise Http404
    _form, filters = filters_for_request(request)
    name = f"statistics-{table}-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.csv"
    return csv_response(_table_rows(table, filters), name)


@login_required
def cases_csv(request):
    _form, filters = filters_for_request(request)
    return csv_response(statistics_case_rows(filters), f"cases-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.csv")


def _quarter(value: str, today: dt.date) -> tuple[int, int]:
    """ "2026-Q3"; by default the last complete quarter."""
    try:
        year, quarter = value.upper().split("-Q")
        year, quarter = int(year), int(quarter)
        if 1 <= quarter <= 4 and 2000 <= year <= today.year:
            return year, quarter
    except ValueError:
        pass
    quarter = (today.month - 1) // 3  # the current quarter's number minus one
    return (today.year, quarter) if quarter else (today.year - 1, 4)


@login_required
def quarterly(request):
    year, quarter = _quarter(request.GET.get("quarter", ""), timezone.localdate())
    start, end = quarter_bounds(year, quarter)
    asked = Filters(start=start, end=end, province=_requested_province(request), interval="month")
    filters = statistics_filters_for_user(user=request.user, filters=asked)
    quarters = []
    y, q = timezone.localdate().year, (timezone.localdate().month - 1) // 3 + 1
    for _n in range(8):
        quarters.append(f"{y}-Q{q}")
        y, q = (y, q - 1) if q > 1 else (y - 1, 4)
    return render(
        request,
        "complaints/statistics/quarterly.html",
        {
            "report": statistics_quarterly(filters),
            "year": year,
            "quarter": quarter,
            "filters": filters,
            "quarters": quarters,
            "current": f"{year}-Q{quarter}",
            "generated": timezone.localtime(),
            "province_label": dict(Province.choices).get(filters.province, ""),
        },
    )


# --- Public open data -------------------------------------------------------------------------------------


def _public_filters(request) -> Filters:
    start, end = default_period()
    year = request.GET.get("year", "")
    if year.isdigit() and 2000 <= int(year) <= end.year:
        start, end = dt.date(int(year), 1, 1), min(dt.date(int(year), 12, 31), end)
    return Filters(start=start, end=end)


def _public_data(filters) -> dict:
    return statistics_public(filters) | {"renewals": renewals.renewal_public_rows(filters)}


def public(request):
    data = _public_data(_public_filters(request))
    months = data["by_month"]
    context = {
        "data": data,
        "years": list(range(timezone.localdate().year, timezone.localdate().year - 4, -1)),
        "year": request.GET.get("year", ""),
        "month_chart": charts.bar_chart(
            [{"label": m["label"], "value": m["complaints"]} for m in months],
            value="value",
            title=_("Complaints by month"),
        ),
        "category_chart": charts.bar_chart(data["by_category"], value="complaints", title=_("Complaints by category")),
        "province_chart": charts.bar_chart(data["by_province"], value="complaints", title=_("Complaints by province")),
    }
    return render(request, "complaints/statistics/public.html", context)


def public_csv(request):
    filters = _public_filters(request)
    data = _public_data(filters)
    rows = itertools.chain(statistics_public_rows(data), renewals.renewal_csv_rows(data["renewals"]))
    return csv_response(rows, f"open-data-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.csv")


def public_json(request):
    return JsonResponse(
        _public_data(_public_filters(request)),
        encoder=DjangoJSONEncoder,
        json_dumps_params={"ensure_ascii": False},
    )
