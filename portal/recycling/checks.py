import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import date as date_type
from datetime import datetime
from datetime import timezone as dt_timezone

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection

from portal.core import ratelimit
from portal.core.phone import normalize_phone
from portal.core.privacy import keyed_hash
from portal.recycling import selectors
from portal.recycling.models import NumberCheckAudit

logger = logging.getLogger(__name__)


NUMBER_CHECKS_MAX_BATCH = 1000


@dataclass(frozen=True)
class CheckClient:
    """The member system asking a recycling check: its rate limit's and the audit trail's "who"."""

    organisation_id: int | None
    integration_id: int
    key_id: str


def number_check_rate_exceeded(*, by: CheckClient, api: str, numbers: int = 1) -> float | None:
    """Count a client's checks (portal/core/ratelimit.py, shared by every instance): CAMARA checks a second, the
    bulk check's numbers a minute, per integration (its two keys during a rotation share one count). The
    seconds until the client may check again, or None."""
    if api == NumberCheckAudit.Api.CAMARA:
        return ratelimit.exceeded("camara-check", by.integration_id, limit=settings.NUMBER_CHECKS_PER_SECOND)
    return ratelimit.exceeded(
        "bulk-check", by.integration_id, limit=settings.NUMBER_CHECK_BULK_NUMBERS_PER_MINUTE, seconds=60, amount=numbers
    )


NUMBER_CHECK_AUDIT_BUFFER = "portal:number-check-audit"


NUMBER_CHECK_AUDIT_BATCH = 200  # calls a statement: 200 rows from CAMARA checks, up to 200,000 from bulk checks


def number_check_audit_record(*, by: CheckClient, api: str, answers: list[tuple[str, object, str]]) -> None:
    """Keep who checked which numbers (`(number, date, answer)`, the number as its keyed hash): one call's
    checks are one item of a Redis list, appended in one round trip and written to the table in batches by
    `number_check_audit_flush` (every 5 s). A row a check written at once would cost the CAMARA check a
    commit each. Written at once if Redis fails."""
    if not answers:
        return
    record = json.dumps(
        [
            uuid.uuid4().int,
            time.time(),
            api,
            by.organisation_id,
            by.integration_id,
            by.key_id,
            [(keyed_hash("phone", phone), str(since), answer) for phone, since, answer in answers],
        ]
    )
    try:
        ratelimit.redis_client().rpush(NUMBER_CHECK_AUDIT_BUFFER, record)
        return
    except Exception:  # Redis trouble: the trail is written now rather than lost
        logger.exception("number-check audit: buffering failed, writing at once")
    _number_check_audit_write([record])


def _number_check_audit_write(records: list) -> int:
    """One INSERT for many calls' checks. Each row's id is its call's id plus its place in the call, so records
    read again (a flush that died before trimming the buffer) are kept once (ON CONFLICT DO NOTHING)."""
    columns: list[list] = [[] for _ in range(9)]
    for raw in records:
        call_id, at, api, organisation_id, integration_id, key_id, checks = json.loads(raw)
        checked_at = datetime.fromtimestamp(at, tz=dt_timezone.utc)
        for index, (phone_hash, since, answer) in enumerate(checks):
            for column, value in zip(
                columns,
                (
                    uuid.UUID(int=(call_id + index) % 2**128),
                    checked_at,
                    api,
                    organisation_id,
                    integration_id,
                    key_id,
                    phone_hash,
                    since,
                    answer,
                ),
            ):
                column.append(value)
    if not columns[0]:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {NumberCheckAudit._meta.db_table} (id, checked_at, api, organisation_id, integration_id, "
            f"key_id,"
            " phone_hash, specified_date, answer) SELECT * FROM unnest(%s::uuid[], %s::timestamptz[], %s::text[],"
            " %s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::date[], %s::text[]) ON CONFLICT (id) DO NOTHING",
            columns,
        )
    return len(columns[0])


def number_check_audit_flush() -> int:
    """Move the buffered audit records to the table, a batch of calls at a time: read, written, then trimmed
    from the buffer, so a worker killed in between leaves them to be read again. One flush at a time."""
    if not cache.add("number-check-audit-flush", 1, timeout=300):
        return 0
    client, written = ratelimit.redis_client(), 0
    try:
        while records := client.lrange(NUMBER_CHECK_AUDIT_BUFFER, 0, NUMBER_CHECK_AUDIT_BATCH - 1):
            written += _number_check_audit_write(records)
            client.ltrim(NUMBER_CHECK_AUDIT_BUFFER, len(records), -1)  # new records were appended at the other end
    finally:
        cache.delete("number-check-audit-flush")
    return written


def number_recycling_check(*, phone_number: str, since, by: CheckClient) -> bool | None:
    """The CAMARA check of one E.164 number (`number_recycled_since`), kept in the audit trail."""
    try:
        national = normalize_phone(phone_number)
    except ValidationError:
        national = None
    recycled = selectors.number_recycled_since(phone_number=national, since=since) if national else None
    answer = (
        NumberCheckAudit.Answer.NO_DATA
        if recycled is None
        else (NumberCheckAudit.Answer.YES if recycled else NumberCheckAudit.Answer.NO)
    )
    number_check_audit_record(
        by=by, api=NumberCheckAudit.Api.CAMARA, answers=[(national or phone_number, since, answer)]
    )
    return recycled


def number_checks(*, checks: list, by: CheckClient) -> list[dict]:
    """Answer each `{phone_number, date}`: yes (changed hands since), no, no_data, or invalid with a reason.
    Each valid check is kept in the audit trail."""
    results, valid = [], []
    for index, item in enumerate(checks):
        raw_phone = item.get("phone_number") if isinstance(item, dict) else None
        result = {"index": index, "phone_number": str(raw_phone or "")}
        try:
            phone = normalize_phone(str(raw_phone or ""))
            since = date_type.fromisoformat(item.get("date", ""))
        except (ValidationError, ValueError, TypeError, AttributeError):
            result |= {"answer": "invalid", "reason": "phone_number must be E.164 (+86...) and date YYYY-MM-DD"}
        else:
            valid.append((result, phone, since))
        results.append(result)
    recycled = selectors.numbers_recycled_since(checks=[(phone, since) for _result, phone, since in valid])
    for (result, _phone, _since), answer in zip(valid, recycled):
        result["answer"] = "no_data" if answer is None else ("yes" if answer else "no")
    number_check_audit_record(
        by=by,
        api=NumberCheckAudit.Api.BULK,
        answers=[(phone, since, result["answer"]) for result, phone, since in valid],
    )
    return results
