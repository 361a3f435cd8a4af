"""Reads for bulk check files: the answers of a chunk in one statement, the files a user may see, progress."""

from django.conf import settings
from django.db import connection, transaction

from portal.bulkcheck.models import BulkCheckFile
from portal.recycling.models import NumberEvent
from portal.recycling.services import pg_array
from registry.carriers import carrier_id_for_number
from registry.scoping import scope_for_user

# Why an answer is what it is (the result's `reason` column; the sentences are in services.REASON_TEXT)
REASSIGNED_AFTER, CANCELLED_AFTER, UNASSIGNED_ON_DATE = "reassigned_after", "cancelled_after", "unassigned_on_date"
NO_CHANGE, NOT_COVERED = "no_change", "not_covered"

# The rule of selectors.numbers_recycled_since, set-based: for each (number, date), the type of the number's
# last event up to the end of that day (Beijing time) and of its first event after it, from one index scan
# of the number's history. The day ends where the next one starts, in the site's time zone.
_ANSWERS_SQL = f"""
SELECT h.last_before, h.first_after
FROM unnest(%s::varchar[], %s::date[]) WITH ORDINALITY AS c(phone, since, ord)
CROSS JOIN LATERAL (SELECT (c.since + 1)::timestamp AT TIME ZONE %s AS day_end) d
LEFT JOIN LATERAL (
    SELECT (array_agg(e.type ORDER BY e.occurred_at DESC) FILTER (WHERE e.occurred_at < d.day_end))[1] AS last_before,
           (array_agg(e.type ORDER BY e.occurred_at) FILTER (WHERE e.occurred_at >= d.day_end))[1] AS first_after
    FROM {NumberEvent._meta.db_table} e
    WHERE e.phone_number = c.phone AND e.type IN ('{NumberEvent.Type.CANCELLED}', '{NumberEvent.Type.REASSIGNED}')
) h ON true
ORDER BY c.ord
"""


def answers_for_checks(checks: list[tuple[str, object]]) -> list[tuple[str, str]]:
    """`(answer, reason)` for each `(number, date)` (numbers as 11 digits): yes (the number changed hands
    after the date, or nobody held it on the date), no, or no_data (no reporting carrier covers the number),
    as `numbers_recycled_since` answers, in one statement for the whole list."""
    covered = [i for i, (phone, _since) in enumerate(checks) if carrier_id_for_number(phone) is not None]
    answers = [("no_data", NOT_COVERED)] * len(checks)
    if not covered:
        return answers
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        # The planner's guess for the per-row subquery switches on JIT compilation, which cost three times
        # the statement itself (1.3 s of 1.7 s for 5,000 rows), as in the carriers' ingest.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(
            _ANSWERS_SQL,
            [
                pg_array((checks[i][0] for i in covered), quote=False),
                pg_array((checks[i][1].isoformat() for i in covered), quote=False),
                settings.TIME_ZONE,
            ],
        )
        for i, (last_before, first_after) in zip(covered, cursor.fetchall()):
            answers[i] = _answer(last_before, first_after)
    return answers


def _answer(last_before: str | None, first_after: str | None) -> tuple[str, str]:
    if last_before == NumberEvent.Type.CANCELLED:
        return "yes", UNASSIGNED_ON_DATE
    if first_after == NumberEvent.Type.REASSIGNED:
        return "yes", REASSIGNED_AFTER
    if first_after == NumberEvent.Type.CANCELLED:
        return "yes", CANCELLED_AFTER
    return "no", NO_CHANGE


def bulk_check_files_for(user):
    """The files a member's staff or system may see: their own organisation's (registry/scoping.py)."""
    return scope_for_user(BulkCheckFile.objects.select_related("uploaded_by"), user).order_by("-created_at", "-pk")


def bulk_check_files_in_progress(*, organisation_id: int) -> int:
    return BulkCheckFile.objects.filter(
        organisation_id=organisation_id, state__in=[BulkCheckFile.State.QUEUED, BulkCheckFile.State.RUNNING]
    ).count()


def bulk_check_file_progress(checked: BulkCheckFile) -> dict:
    """What the page polls and the API answers: rows done of the total is the progress."""
    return {
        "id": str(checked.public_id),
        "state": checked.state,
        "state_label": str(checked.get_state_display()),
        "done": checked.is_done,
        "percent": checked.percent,
        "rows_total": checked.rows_total,
        "rows_done": checked.rows_done,
        "rows_yes": checked.rows_yes,
        "rows_no": checked.rows_no,
        "rows_no_data": checked.rows_no_data,
        "rows_invalid": checked.rows_invalid,
        "bad_rows": [{"row": line, "reason": code} for line, code in checked.bad_rows],
        "result_available": checked.state == BulkCheckFile.State.COMPLETED and checked.purged_at is None,
        "created_at": checked.created_at.isoformat(),
        "expires_at": checked.expires_at.isoformat(),
        "error": checked.error,
    }
