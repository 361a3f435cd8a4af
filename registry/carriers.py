"""The one carrier-for-number rule: the active carrier or MVNO whose number segment is the longest prefix of a
number (an MVNO's 1703 beats a carrier's 170)."""

import time

from django.db import connection

from registry.models import Organisation

CARRIER_SEGMENTS_SECONDS = 30

_carrier_segments: tuple[float, dict[str, int], tuple[int, ...]] = (0.0, {}, ())


def carrier_segments() -> dict[str, int]:
    """segment -> organisation id of the active carriers and MVNOs, kept in this process for 30 s: at a thousand
    checks a second the query was half of each check's database work (bench/checks.py). A change to an
    organisation in this process forgets them at once (portal.apps); other processes follow within 30 s."""
    return _segment_table()[0]


def _segment_table() -> tuple[dict[str, int], tuple[int, ...]]:
    """The segments and their lengths, longest first, as kept for CARRIER_SEGMENTS_SECONDS."""
    global _carrier_segments

    expires, segments, lengths = _carrier_segments
    if time.monotonic() < expires:
        return segments, lengths
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, number_segments FROM {Organisation._meta.db_table}"
            " WHERE status = %s AND kind IN (%s, %s) AND number_segments <> '' ORDER BY id",
            [Organisation.Status.ACTIVE, Organisation.Kind.BASIC_CARRIER, Organisation.Kind.MVNO],
        )
        segments = {segment: pk for pk, line in cursor.fetchall() for segment in line.split()}
    lengths = tuple(sorted({len(segment) for segment in segments}, reverse=True))
    _carrier_segments = (time.monotonic() + CARRIER_SEGMENTS_SECONDS, segments, lengths)
    return segments, lengths


def carrier_segments_forget(**_signal) -> None:
    global _carrier_segments
    _carrier_segments = (0.0, {}, ())


def carrier_id_for_number(phone_number: str) -> int | None:
    """The id of the carrier that issued the number (longest matching segment), or None."""
    segments, lengths = _segment_table()
    for length in lengths:
        carrier_id = segments.get(phone_number[:length])
        if carrier_id is not None:
            return carrier_id
    return None


def carrier_for_number(phone_number: str) -> Organisation | None:
    carrier_id = carrier_id_for_number(phone_number)
    return Organisation.objects.filter(pk=carrier_id).first() if carrier_id else None
