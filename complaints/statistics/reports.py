"""Whole reports from one scan of the rollups: the regulator's dashboard and the quarterly notice; and the
case CSV, the one report that reads the case rows (no personal data)."""

import datetime as dt

from django.db.models.functions import TruncDate
from django.utils.translation import gettext as _

from complaints.models import Complaint
from complaints.statistics.figures import complaint_figures
from complaints.statistics.filters import Filters, local_midnight
from complaints.statistics.headline import statistics_headline
from complaints.statistics.rankings import (
    statistics_by_carrier,
    statistics_by_category,
    statistics_by_platform,
    statistics_by_province,
)
from complaints.statistics.trends import statistics_timeliness, statistics_trend
from portal.core.regions import Province
from registry.models import MemberApp, Organisation

DASHBOARD_SETS = (
    (),
    ("bucket", "category"),
    ("bucket",),
    ("organisation_id",),
    ("carrier_id",),
    ("province",),
    ("category",),
)
QUARTERLY_SETS = ((), ("organisation_id",), ("carrier_id",), ("province",), ("category",))


def statistics_dashboard(filters: Filters) -> dict:
    """Everything the regulator's dashboard shows, from one scan of the rollup."""
    figures = complaint_figures(filters, sets=DASHBOARD_SETS)
    return {
        "headline": statistics_headline(filters, figures),
        "trend": statistics_trend(filters, "category", figures),
        "timeliness": statistics_timeliness(filters, figures),
        "platforms": statistics_by_platform(filters, figures),
        "carriers": statistics_by_carrier(filters, figures),
        "provinces": statistics_by_province(filters, figures),
        "categories": statistics_by_category(filters, figures),
    }


def statistics_quarterly(filters: Filters) -> dict:
    """The quarterly notice: totals, per-company rates, top categories, notable changes (the largest
    rises and falls by province and category against the previous quarter)."""
    figures = complaint_figures(filters, sets=QUARTERLY_SETS)
    provinces = statistics_by_province(filters, figures)
    categories = statistics_by_category(filters, figures)
    changes = [dict(row, lens=_("Province")) for row in provinces]
    changes += [dict(row, lens=_("Category")) for row in categories]
    changes = [row for row in changes if row["previous"] or row["complaints"]]
    changes.sort(key=lambda row: -abs(row["complaints"] - row["previous"]))
    return {
        "headline": statistics_headline(filters, figures),
        "platforms": statistics_by_platform(filters, figures),
        "carriers": statistics_by_carrier(filters, figures),
        "categories": categories[:5],
        "provinces": provinces,
        "changes": changes[:6],
    }


# --- The case CSV (no personal data) ----------------------------------------------------------------------

CASE_COLUMNS = [
    "Complaint ID",
    "Date received",
    "Issue",
    "Platform",
    "App",
    "Carrier",
    "Province",
    "State",
    "Date sent to company",
    "Company response",
    "Relief",
    "Date of final answer",
    "Timely response?",
    "Escalated",
    "Holder feedback",
    "Satisfaction",
]
# the case fields read, in the order _case_row takes them
CASE_FIELDS = (
    "reference",
    "received_on",
    "category",
    "organisation_id",
    "app_id",
    "respondent_name",
    "carrier_id",
    "province",
    "state",
    "sent_on",
    "answer",
    "relief",
    "answered_on",
    "timely",
    "escalated_at",
    "feedback",
    "feedback_score",
)


def statistics_case_rows(filters: Filters):
    """Every case in the filters, one list per row, streamed from a server-side cursor. Only the fields
    regulators count: never the number, the e-mail, the narrative or the answer's text."""
    names = {
        "orgs": dict(Organisation.objects.values_list("pk", "legal_name")),
        "apps": dict(MemberApp.objects.values_list("pk", "name")),
        "provinces": dict(Province.choices),
    }
    yield CASE_COLUMNS
    for values in _cases(filters).iterator(chunk_size=5000):
        yield _case_row(names, *values)


def _cases(filters: Filters):
    return (
        Complaint.objects.filter(
            merged_into__isnull=True,
            received_at__gte=local_midnight(filters.start),
            received_at__lt=local_midnight(filters.end + dt.timedelta(days=1)),
            **{column: value for column, value in filters.conditions()},
        )
        .order_by("received_at")
        .annotate(
            received_on=TruncDate("received_at"),
            sent_on=TruncDate("sent_at"),
            answered_on=TruncDate("answered_at"),
        )
        .values_list(*CASE_FIELDS)
    )


def _case_row(
    names,
    reference,
    received,
    category,
    org,
    app,
    respondent,
    carrier,
    province,
    state,
    sent,
    answer,
    relief,
    answered,
    timely,
    escalated,
    feedback,
    score,
) -> list:
    orgs = names["orgs"]
    return [
        reference,
        received,
        category,
        orgs.get(org, respondent),
        names["apps"].get(app, ""),
        orgs.get(carrier, ""),
        names["provinces"].get(province, province),
        state,
        sent or "",
        answer,
        relief,
        answered or "",
        "" if timely is None else ("Yes" if timely else "No"),
        "Yes" if escalated else "No",
        feedback,
        score or "",
    ]
