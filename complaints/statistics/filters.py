"""What a statistics page or API call counts (`Filters`), its periods and buckets, and who may see what.

Who sees what is decided in ONE place, `statistics_filters_for_user`: regulators and administrators only;
a provincial regulator's province replaces whatever province was asked for.
"""

import datetime as dt
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import Http404
from django.utils import timezone

from registry.models import StaffUser

INTERVALS = ("day", "week", "month", "quarter", "year")
# lens name -> rollup column
LENSES = {
    "category": "category",
    "platform": "organisation_id",
    "carrier": "carrier_id",
    "province": "province",
    "state": "state",
}
# months in a bucket of the intervals counted in months
INTERVAL_MONTHS = {"month": 1, "quarter": 3, "year": 12}


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
        day_before = self.start - dt.timedelta(days=1)
        if self.start.day == 1 and (self.end + dt.timedelta(days=1)).day == 1:
            months = (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1
            index = self.start.year * 12 + self.start.month - 1 - months
            return replace(self, start=dt.date(index // 12, index % 12 + 1, 1), end=day_before)
        days = (self.end - self.start).days + 1
        return replace(self, start=self.start - dt.timedelta(days=days), end=day_before)

    def conditions(self) -> list[tuple[str, object]]:
        """(column, value) for every filter set; the columns are the same in the rollup and the case table."""
        pairs = [
            ("province", self.province),
            ("carrier_id", self.carrier),
            ("organisation_id", self.platform),
            ("category", self.category),
            ("state", self.state),
        ]
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


def quarter_bounds(year: int, quarter: int) -> tuple[dt.date, dt.date]:
    start = dt.date(year, 3 * quarter - 2, 1)
    end = dt.date(year + (quarter == 4), (3 * quarter) % 12 + 1, 1) - dt.timedelta(days=1)
    return start, end


# --- Who may see what (the one place) ---------------------------------------------------------------------


def statistics_reader(user) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and user.role in (StaffUser.Role.REGULATOR, StaffUser.Role.ADMINISTRATOR)
    )


def statistics_filters_for_user(*, user, filters: Filters) -> Filters:
    """Every regulator page, CSV and API call gets its filters through here. Other staff get 404; a
    regulator limited to a province sees that province whatever was asked for."""
    if not statistics_reader(user):
        raise Http404
    if user.role == StaffUser.Role.REGULATOR and user.province:
        return replace(filters, province=user.province)
    return filters


# --- Days, periods and buckets ----------------------------------------------------------------------------


def time_zone() -> str:
    return settings.TIME_ZONE


def local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=ZoneInfo(time_zone()))


def next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def periods(filters: Filters):
    """(current?, start, end) as local datetimes for the period and the one before it."""
    previous = filters.previous
    return (
        (True, local_midnight(filters.start), local_midnight(filters.end + dt.timedelta(days=1))),
        (False, local_midnight(previous.start), local_midnight(previous.end + dt.timedelta(days=1))),
    )


def bucket_start(day: dt.date, interval: str) -> dt.date:
    """The first day of the bucket (day ... year) the day falls in."""
    if interval == "week":
        return day - dt.timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    if interval == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    if interval == "year":
        return day.replace(month=1, day=1)
    return day


def _next_bucket(day: dt.date, interval: str) -> dt.date:
    if interval == "day":
        return day + dt.timedelta(days=1)
    if interval == "week":
        return day + dt.timedelta(days=7)
    month = day.month - 1 + INTERVAL_MONTHS[interval]
    return dt.date(day.year + month // 12, month % 12 + 1, 1)


def buckets(filters: Filters) -> list[dt.date]:
    """Every bucket start of the period, so a chart has a column for empty buckets too."""
    starts, day = [], bucket_start(filters.start, filters.interval)
    while day <= filters.end:
        starts.append(day)
        day = _next_bucket(day, filters.interval)
    return starts


def bucket_label(day: dt.date, interval: str) -> str:
    if interval == "year":
        return f"{day.year}"
    if interval == "quarter":
        return f"{day.year} Q{(day.month - 1) // 3 + 1}"
    if interval == "month":
        return f"{day:%Y-%m}"
    return day.isoformat()
