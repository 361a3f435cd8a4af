"""Working days (Monday to Friday, less public holidays, plus the weekend days worked instead), for
deadlines counted in working days, as carriers and regulators count them."""

from datetime import date, datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.utils import timezone


@lru_cache(maxsize=8)
def _calendar(holidays: tuple[str, ...], extra: tuple[str, ...]) -> tuple[frozenset, frozenset]:
    return frozenset(map(date.fromisoformat, holidays)), frozenset(map(date.fromisoformat, extra))


def is_working_day(day: date) -> bool:
    holidays, extra = _calendar(tuple(settings.PUBLIC_HOLIDAYS), tuple(settings.EXTRA_WORKING_DAYS))
    if day in extra:
        return True
    return day.weekday() < 5 and day not in holidays


def add_working_days(moment: datetime, days: int) -> datetime:
    """The same local time of day, `days` working days later (a request made on a Saturday is due at
    that time on the fifth working day after it)."""
    local = timezone.localtime(moment)
    day = local.date()
    left = days
    while left > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            left -= 1
    return timezone.make_aware(datetime.combine(day, local.time().replace(tzinfo=None)), local.tzinfo)


def working_days_between(start: datetime, end: datetime) -> int:
    """Whole working days from `start`'s day to `end`'s day (negative when end is earlier)."""
    a, b = timezone.localtime(start).date(), timezone.localtime(end).date()
    sign = 1
    if b < a:
        a, b, sign = b, a, -1
    count, day = 0, a
    while day < b:
        day += timedelta(days=1)
        count += is_working_day(day)
    return sign * count
