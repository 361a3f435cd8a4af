import time

from django.db import connection

from registry.models import Organisation


def carrier_for_number(phone_number: str):
    """The active carrier or MVNO member that issued the number: the one whose segment is the longest
    prefix of it (an MVNO's 1703 beats a carrier's 170), or None."""
    best, best_length = None, 0
    carriers = Organisation.objects.filter(
        status=Organisation.Status.ACTIVE, kind__in=[Organisation.Kind.BASIC_CARRIER, Organisation.Kind.MVNO]
    ).exclude(number_segments="")
    for carrier in carriers:
        for segment in carrier.number_segments.split():
            if phone_number.startswith(segment) and len(segment) > best_length:
                best, best_length = carrier, len(segment)
    return best


CARRIER_SEGMENTS_SECONDS = 30


_carrier_segments: tuple[float, tuple[str, ...]] = (0.0, ())


def carrier_segments() -> tuple[str, ...]:
    """The number segments of the active reporting carriers, kept in this process for 30 s: at a thousand
    checks a second the query was half of each check's database work (bench/checks.py). A change to an
    organisation in this process forgets them at once (portal.apps); other processes follow within 30 s."""
    global _carrier_segments

    expires, segments = _carrier_segments
    if time.monotonic() < expires:
        return segments
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT number_segments FROM {Organisation._meta.db_table} WHERE status = %s AND kind IN (%s, %s) AND number_segments <> ''",
            [Organisation.Status.ACTIVE, Organisation.Kind.BASIC_CARRIER, Organisation.Kind.MVNO],
        )
        segments = tuple(segment for (line,) in cursor.fetchall() for segment in line.split())
    _carrier_segments = (time.monotonic() + CARRIER_SEGMENTS_SECONDS, segments)
    return segments


def carrier_segments_forget(**_signal) -> None:
    global _carrier_segments
    _carrier_segments = (0.0, ())
