"""Helpers for the statistics tests: cases made directly in the table, a regulator, the CSV rows of a
response, and the independent count (the case rows themselves, filtered in Python)."""

import csv
import io
import itertools
import statistics as pystats
from datetime import timedelta

from django.utils import timezone

from complaints.models import Complaint
from complaints.statistics.filters import Filters
from registry.models import StaffUser
from tests.registry.factories import StaffUserFactory

_references = itertools.count(1)


def make_case(**fields) -> Complaint:
    fields.setdefault("received_at", timezone.now() - timedelta(days=3))
    fields.setdefault("category", Complaint.Category.DEBT_COLLECTION)
    fields.setdefault("province", "44")
    if fields.get("app") is not None:
        fields.setdefault("organisation", fields["app"].organisation)
    return Complaint.objects.create(reference=f"TS-STAT-{next(_references):05d}", phone_hash="x", **fields)


def regulator(province: str = "", **kwargs) -> StaffUser:
    return StaffUserFactory(role=StaffUser.Role.REGULATOR, province=province, **kwargs)


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def period(days: int = 90) -> Filters:
    today = timezone.localdate()
    return Filters(start=today - timedelta(days=days - 1), end=today, interval="month")


def cases_in(filters: Filters, **where) -> list[Complaint]:
    """The independent count: the case rows themselves, filtered in Python."""
    rows = []
    for c in Complaint.objects.filter(merged_into__isnull=True):
        if not filters.start <= timezone.localdate(c.received_at) <= filters.end:
            continue
        if all(getattr(c, field) == value for field, value in where.items()):
            rows.append(c)
    return rows


def share(part, whole):
    return round(100.0 * part / whole, 1) if whole else None


def expected_headline(cases):
    decided = [c for c in cases if c.timely is not None]
    rated = [c for c in cases if c.feedback]
    answered = [(c.answered_at - c.received_at).days for c in cases if c.answered_at]  # whole days
    return {
        "complaints": len(cases),
        "on_time": share(sum(c.timely for c in decided), len(decided)),
        "satisfied": share(sum(c.feedback == "satisfied" for c in rated), len(rated)),
        "median_days": pystats.median(answered) if answered else None,
    }
