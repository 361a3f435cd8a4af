"""Statistics pages: the regulator's dashboard, its CSV tables and case CSV, the quarterly report (staff,
`/staff/statistics/`), and the public open-data page with its CSV and JSON (`/statistics/`). Views parse the
filters, call one selector in `complaints.statistics`, and render."""

import datetime as dt
import itertools
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from complaints import charts
from complaints import renewal_statistics
from complaints import statistics as stats
from complaints.forms import StatisticsFilterForm
from portal.csv_export import csv_response
from portal.regions import Province


def filters_for_request(request) -> tuple[StatisticsFilterForm, stats.Filters]:
    """The filters a staff request asks for, through the one scoping function."""
    if not stats.statistics_reader(request.user):
        raise Http404
    form = StatisticsFilterForm(request.GET, province_fixed=request.user.province if request.user.province else "")
    filters = stats.statistics_filters_for_user(user=request.user, filters=form.filters())
    return form, filters


def _requested_province(request) -> str:
    """The province a staff request asks for, read as the filter form reads it: the user's own when they have
    one, else a valid `province` parameter."""
    if request.user.province:
        return request.user.province
    province = request.GET.get("province", "")
    return province if province in Province.values else ""


def _query(filters: stats.Filters) -> str:
    params = {"start": filters.start.isoformat(), "end": filters.end.isoformat(), "interval": filters.interval}
    params.update({name: value for name, value in (
        ("province", filters.province), ("carrier", filters.carrier), ("platform", filters.platform),
        ("category", filters.category), ("state", filters.state)) if value})
    return urlencode(params)


@login_required
def dashboard(request):
    form, filters = filters_for_request(request)
    data = stats.statistics_dashboard(filters)
    trend, timeliness = data["trend"], data["timeliness"]
    legend = [{"label": s["label"], "swatch": charts.swatch(i)} for i, s in enumerate(trend["series"][:9])]
    context = {
        "form": form, "filters": filters, "query": _query(filters), **data, "legend": legend,
        "trend_chart": charts.stacked_columns(trend["bucket_labels"], trend["series"], title=_("Complaints over time")),
        "timeliness_chart": charts.line_chart([p["label"] for p in timeliness["points"]],
                                              [p["on_time_share"] for p in timeliness["points"]], title=_("Answered on time")),
        "platform_chart": charts.bar_chart(data["platforms"], value="complaints", title=_("Complaints by platform")),
        "platform_rate_chart": charts.bar_chart([r for r in data["platforms"] if r["rank"]], value="per_100k",
                                                title=_("Complaints per 100,000 lookups")),
        "carrier_chart": charts.bar_chart(data["carriers"], value="complaints", title=_("Complaints by carrier")),
        "province_chart": charts.bar_chart(data["provinces"], value="complaints", title=_("Complaints by province")),
        "ranking_floor": stats.settings.STATISTICS_RANKING_MIN_LOOKUPS,
        "province_label": dict(Province.choices).get(filters.province, ""),
        "interval_widened": form.data.get("interval") not in ("", None, filters.interval),
        "renewals": renewal_statistics.renewal_rows(filters),  # carriers' renewals (portal/carrier/)
    }
    return render(request, "complaints/statistics/dashboard.html", context)


TABLES = {
    # name: (selector, columns)
    "headline": (stats.statistics_headline, ["key", "label", "value", "previous", "change", "unit", "available"]),
    "platforms": (stats.statistics_by_platform, ["key", "label", "complaints", "previous", "change", "answered",
                                                 "on_time_share", "satisfied_share", "escalated", "size", "per_100k", "rank"]),
    "carriers": (stats.statistics_by_carrier, ["key", "label", "complaints", "previous", "change", "answered",
                                               "on_time_share", "satisfied_share", "escalated", "size", "per_100k", "rank"]),
    "provinces": (stats.statistics_by_province, ["key", "label", "complaints", "previous", "change", "answered",
                                                 "on_time_share", "satisfied_share", "escalated"]),
    "categories": (stats.statistics_by_category, ["key", "label", "complaints", "previous", "change", "answered",
                                                  "on_time_share", "satisfied_share", "escalated"]),
}


def _table_rows(name: str, filters: stats.Filters):
    if name == "trend":
        trend = stats.statistics_trend(filters, "category")
        yield ["bucket", *[s["label"] for s in trend["series"]]]
        for i, label in enumerate(trend["bucket_labels"]):
            yield [label, *[s["values"][i] for s in trend["series"]]]
        return
    if name == "timeliness":
        yield ["bucket", "received", "answered", "on_time_share"]
        for p in stats.statistics_timeliness(filters)["points"]:
            yield [p["label"], p["received"], p["answered"], "" if p["on_time_share"] is None else p["on_time_share"]]
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
    return csv_response(_table_rows(table, filters), f"statistics-{table}-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.csv")


@login_required
def cases_csv(request):
    _form, filters = filters_for_request(request)
    return csv_response(stats.statistics_case_rows(filters), f"cases-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.csv")


def _quarter(value: str, today: dt.date) -> tuple[int, int]:
    """"2026-Q3"; by default the last complete quarter."""
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
    start, end = stats.quarter_bounds(year, quarter)
    filters = stats.statistics_filters_for_user(
        user=request.user, filters=stats.Filters(start=start, end=end, province=_requested_province(request), interval="month"))
    quarters = []
    y, q = timezone.localdate().year, (timezone.localdate().month - 1) // 3 + 1
    for _n in range(8):
        quarters.append(f"{y}-Q{q}")
        y, q = (y, q - 1) if q > 1 else (y - 1, 4)
    return render(request, "complaints/statistics/quarterly.html", {
        "report": stats.statistics_quarterly(filters), "year": year, "quarter": quarter, "filters": filters,
        "quarters": quarters, "current": f"{year}-Q{quarter}", "generated": timezone.localtime(),
        "province_label": dict(Province.choices).get(filters.province, ""),
    })


# --- Public open data -------------------------------------------------------------------------------------

def _public_filters(request) -> stats.Filters:
    start, end = stats.default_period()
    year = request.GET.get("year", "")
    if year.isdigit() and 2000 <= int(year) <= end.year:
        start, end = dt.date(int(year), 1, 1), min(dt.date(int(year), 12, 31), end)
    return stats.Filters(start=start, end=end)


def _public_data(filters: stats.Filters) -> dict:
    return stats.statistics_public(filters) | {"renewals": renewal_statistics.renewal_public_rows(filters)}


def public(request):
    data = _public_data(_public_filters(request))
    months = data["by_month"]
    context = {
        "data": data, "years": list(range(timezone.localdate().year, timezone.localdate().year - 4, -1)),
        "year": request.GET.get("year", ""),
        "month_chart": charts.bar_chart([{"label": m["label"], "value": m["complaints"]} for m in months],
                                        value="value", title=_("Complaints by month")),
        "category_chart": charts.bar_chart(data["by_category"], value="complaints", title=_("Complaints by category")),
        "province_chart": charts.bar_chart(data["by_province"], value="complaints", title=_("Complaints by province")),
    }
    return render(request, "complaints/statistics/public.html", context)


def public_csv(request):
    filters = _public_filters(request)
    data = _public_data(filters)
    return csv_response(itertools.chain(stats.statistics_public_rows(data), renewal_statistics.renewal_csv_rows(data["renewals"])),
                        f"open-data-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.csv")


def public_json(request):
    return JsonResponse(_public_data(_public_filters(request)), encoder=DjangoJSONEncoder,
                        json_dumps_params={"ensure_ascii": False})
