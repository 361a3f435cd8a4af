import json
import logging
import secrets
import uuid
from collections import defaultdict
from datetime import timedelta

import httpx
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.core.enqueue import enqueue, enqueue_each
from portal.core.phone import normalize_phone, to_e164
from portal.core.privacy import keyed_hash, token_hash
from portal.core.refusals import Refusal, local_time
from portal.lookup import fanout, selectors
from portal.lookup.admission import lookup_admit
from portal.lookup.completion import finish_lookups, lookup_complete_if_settled
from portal.lookup.models import Lookup, LookupQuery
from portal.recycling.models import NumberCheckAudit
from portal.recycling.selectors import holder_since
from portal.sms.models import SmsMessage
from portal.unbinding.models import UnbindRequest
from portal.verification.models import VerificationCode
from portal.verification.services import normalize_id_last6, verification_code_check
from registry import protocol
from registry.services import (
    integration_health_record,
    integration_secrets,
    member_call,
)

logger = logging.getLogger(__name__)


def _one_lookup_per_day(phone_hash: str) -> None:
    """A number is looked up once a day. Told only after the code proved the number (lookup_start)."""
    since = timezone.now() - timedelta(hours=settings.LOOKUP_ONE_PER_NUMBER_HOURS)
    last = Lookup.objects.filter(phone_hash=phone_hash, created_at__gte=since).order_by("-created_at").first()
    if last:
        retry_at = last.created_at + timedelta(hours=settings.LOOKUP_ONE_PER_NUMBER_HOURS)
        raise Refusal(
            _("This number was already looked up in the last %(hours)d hours. You can look it up again after %(time)s.")
            % {"hours": settings.LOOKUP_ONE_PER_NUMBER_HOURS, "time": local_time(retry_at)},
            code="lookup_daily_limit",
            retry_at=retry_at,
        )


def identity_check(*, phone_number: str, id_last6: str) -> str:
    """Ask the number's carrier whether the ID characters match its real-name record (as CAMARA KYC
    Match answers): "true", "false" or "not_available"; "skipped" when the carrier does not check.
    A carrier that is down or answers badly gives "not_available": the lookup goes on."""
    app = selectors.carrier_identity_app(phone_number)
    if app is None:
        return "skipped"
    integration = app.integration
    key = integration.signing_key()
    if key is None:
        return "not_available"
    # v2: the carrier gets a fresh challenge, answers the digest of its own record's characters under
    # it, and the portal compares; nothing it is sent depends on the holder's characters
    challenge = protocol.id_challenge()
    payload = protocol.identity_check_request(
        request_id=secrets.token_hex(16), phone_e164=to_e164(phone_number), id_challenge=challenge
    )
    try:
        reply = member_call(integration, protocol.IDENTITY_CHECK_PATH, payload)
        if reply.status != 200:
            raise protocol.ProtocolError(f"HTTP {reply.status}")
        answer = protocol.parse_identity_check_answer(reply.body)
    except (httpx.HTTPError, protocol.ProtocolError) as error:
        logger.warning("identity check at %s failed: %s", app, error)
        return "not_available"
    return protocol.id_check_matches(answer, protocol.id_digest(challenge, id_last6))


def lookup_start(*, phone_number: str, id_last6: str, code: str) -> tuple[Lookup, str]:
    """Check the code and start a lookup: one query row per member app, dispatched after commit.
    Returns the lookup and its access token (shown once; only its hash is kept)."""
    phone_number = normalize_phone(phone_number)
    id_last6 = normalize_id_last6(id_last6)
    phone_hash = keyed_hash("phone", phone_number)
    lookup_admit()  # busy: refused before the code is checked, so it is not used up
    verification_code_check(phone_number=phone_number, code=code)  # commits its own count of wrong tries
    _one_lookup_per_day(phone_hash)  # a limit on the number: told only to whoever proved it
    # After the code, so every guess at the ID characters costs a new SMS code (and its limits).
    identity = identity_check(phone_number=phone_number, id_last6=id_last6)
    if identity == "false":
        raise Refusal(
            _(
                "The last 6 characters of the ID card do not match the carrier's real-name record for this number. "
                "Check them and ask for a new code."
            ),
            code="identity_mismatch",
        )
    return lookup_create(phone_number=phone_number, id_last6=id_last6, identity=identity)


def lookup_create(
    *, phone_number: str, id_last6: str | None, identity: str, origin: str = Lookup.Origin.CITIZEN
) -> tuple[Lookup, str]:
    """Create a lookup of a proven number and dispatch its calls after commit: the holder's own
    (lookup_start), or a carrier's for its subscriber (portal/carrier/), which has no ID characters:
    its rows then compare no digest, and accounts are the previous holder's by date alone."""
    phone_hash = keyed_hash("phone", phone_number)
    apps = selectors.lookup_app_keys()
    with transaction.atomic():
        token = secrets.token_urlsafe(32)
        now = timezone.now()
        lookup = Lookup.objects.create(
            phone_hash=phone_hash,
            phone_number=phone_number,
            holder_since=holder_since(phone_number),  # from the carriers' reports
            identity_check=identity,
            access_token_hash=token_hash(token),
            created_at=now,
            apps_total=len(apps),
            origin=origin,
        )
        rows, called = _query_rows(apps, id_last6=id_last6, now=now)
        _lookup_queries_insert(lookup, rows)
        specs = _call_specs(lookup, called)
        if specs:
            transaction.on_commit(lambda: lookup_dispatch_calls(specs=specs))
        else:  # no member to call (none, or only unavailable ones): settled already
            transaction.on_commit(lambda: finish_lookups({str(lookup.pk)}))
    return lookup, token


def _query_rows(apps: list[dict], *, id_last6: str | None, now) -> tuple[list[dict], list[tuple[dict, dict]]]:
    """One row per member app, and the (row, app) pairs to call now (those whose circuit is closed)."""
    grace = timedelta(seconds=settings.LOOKUP_DEADLINE_GRACE_SECONDS)
    rows, called = [], []
    for app in apps:
        row = {
            "app_id": app["integration__app_id"],
            "request_id": uuid.uuid4(),
            "deadline_at": now + grace,
            "started_at": now,
        }
        failures = app["integration__consecutive_failures"]
        if fanout.circuit_open(
            consecutive_failures=failures, last_failure_at=app["integration__last_failure_at"], now=now
        ):
            # skipped and shown unavailable: no call, no attempt
            row |= {
                "state": LookupQuery.State.UNAVAILABLE,
                "error": fanout.unavailable_error(failures),
                "finished_at": now,
            }
        else:
            # handed to a worker as soon as this commits: running, first attempt. The member gets only a
            # random challenge; the row keeps it and a keyed hash of the portal's own digest of the holder's
            # characters under it (the characters themselves are never stored), until the row settles.
            row |= {
                "state": LookupQuery.State.RUNNING,
                "attempts": 1,
                "id_check": fanout.id_check_row(id_last6, key_id=app["key_id"])
                if id_last6
                else fanout.id_check_row_without_holder(key_id=app["key_id"]),
                "deadline_at": now + timedelta(milliseconds=app["integration__timeout_ms"]) + grace,
            }
            called.append((row, app))
        rows.append(row)
    return rows, called


def _call_specs(lookup: Lookup, called: list[tuple[dict, dict]]) -> list[dict]:
    """The first attempt's calls, ready-made for the workers."""
    phone_e164 = to_e164(lookup.phone_number)
    return [
        fanout.call_spec(
            query_id=row["id"],
            lookup_id=lookup.pk,
            request_id=row["request_id"],
            id_check=row["id_check"],
            integration_id=app["integration_id"],
            base_url=app["integration__base_url"],
            timeout_ms=app["integration__timeout_ms"],
            rps=app["integration__max_requests_per_second"],
            phone_e164=phone_e164,
            holder_since=lookup.holder_since,
            attempt=1,
        )
        for row, app in called
    ]


_QUERY_COLUMNS = (
    "id",
    "lookup_id",
    "app_id",
    "request_id",
    "id_check",
    "state",
    "error",
    "attempts",
    "duration_ms",
    "started_at",
    "finished_at",
    "deadline_at",
    "accounts",
    "accounts_total",
    "accounts_previous",
)


def _lookup_queries_insert(lookup: Lookup, rows: list[dict]) -> None:
    """Insert a lookup's rows (dicts of LookupQuery fields; each gets its "id") with COPY from plain
    values, ids taken from the sequence first: with a few hundred member apps, bulk_create's model
    instances and per-value preparation were most of a lookup's start."""
    if not rows:
        return
    table = LookupQuery._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)", [len(rows)]
        )
        for row, (pk,) in zip(rows, cursor.fetchall(), strict=True):
            row["id"] = pk
        # what the model would fill in for a column a row leaves out
        defaults = {column: LookupQuery._meta.get_field(column).get_default() for column in _QUERY_COLUMNS} | {
            "lookup_id": lookup.pk
        }
        with cursor.cursor.copy(f"COPY {table} ({', '.join(_QUERY_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                values = defaults | row
                values["id_check"], values["accounts"] = json.dumps(values["id_check"]), json.dumps(values["accounts"])
                copy.write_row([values[column] for column in _QUERY_COLUMNS])


def lookup_dispatch_calls(*, specs: list[dict]) -> None:
    """The first attempt of a new lookup: each task gets its calls ready-made, so a worker starts
    calling members without reading the rows first (retries and the sweeper go by row ids). The calls
    hold the number, so they travel sealed with the field keys: the broker (and Celery's `argsrepr`)
    never sees a number in clear. A broker refusing them leaves the rows running: lookup_sweep sends them
    again after their deadline."""
    size = settings.LOOKUP_BATCH_SIZE
    batches = [(fanout.seal_specs(specs[start : start + size]),) for start in range(0, len(specs), size)]
    enqueue_each("portal.tasks.lookup_calls_run", batches, after_commit=False)


def lookup_dispatch(*, query_ids: list[int]) -> None:
    """Nudge workers: one task per batch of queries, so the calls share a task's overhead."""

    size = settings.LOOKUP_BATCH_SIZE
    for start in range(0, len(query_ids), size):
        enqueue("portal.tasks.lookup_queries_run", query_ids[start : start + size], after_commit=False)


def lookup_sweep() -> int:
    """Re-send rows stuck past their deadline (a killed worker, a lost message); rows out of attempts
    settle. Also completes lookups whose rows all settled but which were not marked. A statement per
    kind of outcome, not per row: after a broker restart thousands of rows may be stuck at once. The
    rows are taken under lock (SKIP LOCKED) and get a new deadline before the lock goes, so a second
    sweep at the same moment (two beats) finds nothing to send again."""
    with transaction.atomic():
        resend, touched = _stuck_rows_settle_or_extend(timezone.now())
    resend_ids = sorted(resend)
    if resend_ids:
        lookup_dispatch(query_ids=resend_ids)
    running = Lookup.objects.filter(state=Lookup.State.RUNNING).exclude(
        queries__state__in=[LookupQuery.State.WAITING, LookupQuery.State.RUNNING]
    )
    for lookup_id in set(running.values_list("pk", flat=True)) | touched:
        lookup_complete_if_settled(lookup_id=lookup_id)
    return len(resend_ids)


def _stuck_rows_settle_or_extend(now) -> tuple[list[int], set]:
    """Under lock: rows out of attempts settle; the others get a new deadline and are returned to re-send."""
    State = LookupQuery.State
    stuck = (
        LookupQuery.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(state__in=[State.WAITING, State.RUNNING], deadline_at__lt=now)
        .order_by("pk")
        .values_list("pk", "lookup_id", "state", "error", "attempts", "app__integration__timeout_ms")[:5000]
    )
    settle, resend, touched = defaultdict(list), defaultdict(list), set()
    for pk, lookup_id, state, error, attempts, timeout_ms in stuck:
        if attempts >= settings.LOOKUP_MAX_ATTEMPTS:
            awaiting_callback = state == State.RUNNING and error == fanout.AWAITING_CALLBACK
            settled_as = State.TIMED_OUT if state == State.RUNNING else State.ERROR
            reason = (
                _("no callback before the deadline")
                if awaiting_callback
                else _("no answer after %(n)d attempts") % {"n": attempts}
            )
            settle[(state, settled_as, reason)].append(pk)
            touched.add(lookup_id)
        else:
            resend[timeout_ms].append(pk)
    for (state, settled_as, reason), ids in settle.items():  # only rows still as read: a late answer wins
        LookupQuery.objects.filter(pk__in=ids, state=state).update(
            state=settled_as, error=reason, finished_at=now, id_check={}
        )
    grace = timedelta(seconds=settings.LOOKUP_DEADLINE_GRACE_SECONDS)
    for timeout_ms, ids in resend.items():
        LookupQuery.objects.filter(pk__in=ids).update(deadline_at=now + timedelta(milliseconds=timeout_ms) + grace)
    return [pk for ids in resend.values() for pk in ids], touched


def lookup_purge() -> int:
    """Delete personal details after the retention period; the counts stay for statistics. The recycling
    checks' audit trail goes after its own period (NUMBER_CHECK_AUDIT_RETENTION_DAYS)."""
    cutoff = timezone.now() - timedelta(days=settings.LOOKUP_RETENTION_DAYS)
    lookups = Lookup.objects.filter(created_at__lt=cutoff, purged_at__isnull=True)
    LookupQuery.objects.filter(lookup__in=lookups).update(id_check={}, accounts=[])
    UnbindRequest.objects.filter(lookup__in=lookups).update(accounts=[])
    purged = lookups.update(phone_number="", phone_hash="", purged_at=timezone.now())
    VerificationCode.objects.filter(created_at__lt=timezone.now() - timedelta(days=1)).delete()
    SmsMessage.objects.filter(created_at__lt=cutoff).delete()
    NumberCheckAudit.objects.filter(
        checked_at__lt=timezone.now() - timedelta(days=settings.NUMBER_CHECK_AUDIT_RETENTION_DAYS)
    ).delete()
    return purged


class UnknownRequest(Exception):
    pass


def lookup_query_callback(*, request_id, headers, body: bytes) -> LookupQuery:
    """A member that answered 202 sends its answer later, signed (protocol v2). The first answer
    stands; a repeated callback changes nothing."""

    query = LookupQuery.objects.select_related("app__integration", "lookup").filter(request_id=request_id).first()
    if query is None:
        raise UnknownRequest(request_id)
    integration = query.app.integration
    # like every request to the portal: X-Portal-Key-Id says which of this integration's keys signed
    protocol.verify_caller(
        headers,
        body,
        secrets_for_key_id=lambda key_id: integration_secrets(integration, key_id),
        replay_scope=f"callback:{integration.pk}",
    )
    accounts = fanout.account_rows(
        protocol.parse_account_lookup_answer(body),
        query.lookup.holder_since,
        id_expected=query.id_check.get("expected", ""),
    )
    now = timezone.now()
    with transaction.atomic():
        query = LookupQuery.objects.select_for_update().get(pk=query.pk)
        if query.is_settled:
            return query
        query.state = LookupQuery.State.ANSWERED if accounts else LookupQuery.State.NO_ACCOUNT
        query.accounts, query.error, query.finished_at = accounts, "", now
        query.id_check = {}  # compared: nothing of the holder's characters is kept past this
        query.accounts_total = len(accounts)
        query.accounts_previous = sum(1 for a in accounts if a["likely_previous"])
        query.save()
        integration_health_record(succeeded={integration.pk}, failed={}, now=now)
    finish_lookups({str(query.lookup_id)})
    return query
