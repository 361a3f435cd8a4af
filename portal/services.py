import codecs
import csv
import hmac
import json
import logging
import os
import re
import secrets
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal import fanout, ratelimit, selectors
from portal.outbound import clients as outbound
from portal.outbound import policy as outbound_policy
from portal.models import (
    Lookup,
    LookupQuery,
    NoticeDelivery,
    NoticeSubscription,
    NumberCheckAudit,
    NumberEvent,
    NumberEventUpload,
    NumberEventUploadRejection,
    SmsMessage,
    UnbindRequest,
    VerificationCode,
    WorkerHeartbeat,
)
from portal.phone import normalize_phone, to_e164
from portal.privacy import keyed_hash, token_hash
from registry import protocol
from registry.services import integration_health_record, integration_secrets

logger = logging.getLogger(__name__)


def worker_heartbeat_record(*, hostname: str) -> None:
    WorkerHeartbeat.objects.update_or_create(hostname=hostname, defaults={"seen_at": timezone.now()})


def sms_send(*, phone_number: str, text: str, purpose: str = "other") -> SmsMessage:
    """Record an SMS and deliver it in the background once the caller's transaction commits."""
    from portal.tasks import sms_deliver

    message = SmsMessage.objects.create(phone_number=normalize_phone(phone_number), text=text, purpose=purpose)
    transaction.on_commit(lambda: sms_deliver.delay(message.pk))
    return message


class SmsRetry(Exception):
    """Delivery failed but may be tried again."""


def sms_deliver_now(*, message_id: int, final_attempt: bool) -> SmsMessage:
    """Hand one queued message to the backend. Idempotent: a message already sent is left alone."""
    from portal.sms.backends import SmsDeliveryError, get_backend

    with transaction.atomic():
        message = SmsMessage.objects.select_for_update().get(pk=message_id)
        if message.status != SmsMessage.Status.QUEUED:
            return message
        message.attempts += 1
        message.save(update_fields=["attempts"])
    backend = get_backend()
    try:
        provider_id = backend.send(phone_number=message.phone_number, text=message.text, reference=str(message.pk))
    except SmsDeliveryError as error:
        message.last_error = message.without_code(str(error))[:500]
        message.backend = backend.name
        if final_attempt:
            message.status = SmsMessage.Status.FAILED
            message.text = message.without_code(message.text)  # never sent again: the code may go
        message.save(update_fields=["last_error", "backend", "status", "text"])
        if not final_attempt:
            raise SmsRetry(message.last_error) from error
        return message
    message.status = SmsMessage.Status.SENT
    message.backend = backend.name
    message.provider_id = provider_id
    message.sent_at = timezone.now()
    message.last_error = ""
    if not backend.keeps_text:  # the provider has the code now; whoever reads the database must not
        message.text = message.without_code(message.text)
    message.save(update_fields=["status", "backend", "provider_id", "sent_at", "last_error", "text"])
    return message


def sms_resend_stuck(*, older_than_seconds: int = 120) -> int:
    """Nudge again every message still queued after a while; delivery is idempotent."""
    from portal.tasks import sms_deliver

    since = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(SmsMessage.objects.filter(status=SmsMessage.Status.QUEUED, created_at__lt=since).values_list("pk", flat=True))
    for message_id in ids:
        sms_deliver.delay(message_id)
    return len(ids)


# --- Verification codes -------------------------------------------------------------------------------


class Refusal(Exception):
    """A rule said no. `message` tells the citizen why and, with `retry_at`, when to try again."""

    def __init__(self, message: str, *, code: str, retry_at=None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.retry_at = retry_at


def _local_time(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _one_lookup_per_day(phone_hash: str) -> None:
    """A number is looked up once a day. Told only after the code proved the number (lookup_start)."""
    since = timezone.now() - timedelta(hours=settings.LOOKUP_ONE_PER_NUMBER_HOURS)
    last = Lookup.objects.filter(phone_hash=phone_hash, created_at__gte=since).order_by("-created_at").first()
    if last:
        retry_at = last.created_at + timedelta(hours=settings.LOOKUP_ONE_PER_NUMBER_HOURS)
        raise Refusal(
            _("This number was already looked up in the last %(hours)d hours. You can look it up again after %(time)s.")
            % {"hours": settings.LOOKUP_ONE_PER_NUMBER_HOURS, "time": _local_time(retry_at)},
            code="lookup_daily_limit",
            retry_at=retry_at,
        )


def captcha_challenge_new() -> str:
    """A new picture check (django-simple-captcha's store, as on the pages): its key."""
    from captcha.models import CaptchaStore

    return CaptchaStore.pick()


def captcha_required() -> Refusal:
    return Refusal(_("Solve a picture check first: fetch one (POST /api/v1/captcha) and send its captcha_key "
                     "and the characters in its picture as captcha_answer."), code="captcha_required")


def captcha_challenge_pass(*, key: str, answer: str) -> None:
    """The picture check before an SMS code, for API clients. A key is tried once, right or wrong."""
    from captcha.validators import captcha_validate
    from rest_framework.exceptions import ValidationError as CaptchaWrong

    if not (key or "").strip() or not (answer or "").strip():
        raise captcha_required()
    try:
        captcha_validate(key.strip(), answer.strip())
    except CaptchaWrong:
        raise Refusal(_("The characters do not match the picture, or the picture has expired. Fetch a new picture "
                        "and try again."), code="captcha_invalid") from None


def _sms_budget_key(now) -> str:
    return "sms-code-budget:" + now.strftime("%Y%m%d%H")  # now is UTC


def _sms_budget_refuse(now) -> None:
    """The site's hourly budget is spent: say so (it concerns every number alike) and raise the alarm,
    once an hour; the log holds no number."""
    retry_at = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if cache.add(_sms_budget_key(now) + ":alarm", 1, timeout=3600):
        logger.critical("SMS budget spent: %d verification codes this hour (SMS_CODES_PER_HOUR); new codes are "
                        "refused until %s", settings.SMS_CODES_PER_HOUR, retry_at.isoformat())
    raise Refusal(
        _("We have sent as many SMS codes as we can this hour. Please try again after %(time)s.")
        % {"time": _local_time(retry_at)},
        code="sms_budget_spent",
        retry_at=retry_at,
    )


def _sms_budget_spend(now) -> None:
    """Count one code against the hour's budget (in Redis, shared by every web process)."""
    key = _sms_budget_key(now)
    cache.add(key, 0, timeout=2 * 3600)
    if cache.incr(key) > settings.SMS_CODES_PER_HOUR:
        _sms_budget_refuse(now)


def _number_withholds(*, phone_hash: str, client_hash: str, purpose: str, now) -> str:
    """Why a code to this number is not sent now ("" if it is): a code a minute (per flow, so going from
    one flow to another gets its code) and a daily share per number and client, so a stranger spends
    only their own share of the holder's codes; and a higher daily ceiling per number."""
    day_ago = now - timedelta(days=1)
    to_number = VerificationCode.objects.filter(phone_hash=phone_hash, created_at__gte=day_ago).exclude(code_hash="")
    from_client = to_number.filter(client_hash=client_hash)
    last = from_client.filter(purpose=purpose).order_by("-created_at").first()
    if last and (now - last.created_at).total_seconds() < settings.LOOKUP_CODE_RESEND_SECONDS:
        return "a code a minute"
    if from_client.count() >= settings.LOOKUP_CODES_PER_NUMBER_AND_CLIENT_PER_DAY:
        return "daily cap per number and client"
    if to_number.count() >= settings.LOOKUP_CODES_PER_NUMBER_PER_DAY:
        return "daily cap per number"
    return ""


def verification_code_send(*, phone_number: str, client_ip: str, purpose: str = "lookup") -> VerificationCode | None:
    """Send a 6-digit code by SMS, within the limits. Limits that concern the client (its daily cap, the
    site's hourly SMS budget) refuse with a Refusal. Limits that concern the number withhold the code
    silently (None): the caller gives every number the same answer ("if this number can receive a code,
    one was sent"), so nobody learns anything about a number before proving it with a code. The lookup
    a day per number is told after the code (lookup_start)."""
    phone_number = normalize_phone(phone_number)
    phone_hash = keyed_hash("phone", phone_number)
    client_hash = keyed_hash("client", client_ip or "unknown")
    now = timezone.now()
    # The client's own limits first, so that what they answer never depends on the number.
    if (cache.get(_sms_budget_key(now)) or 0) >= settings.SMS_CODES_PER_HOUR:
        _sms_budget_refuse(now)
    recent = VerificationCode.objects.filter(client_hash=client_hash, created_at__gte=now - timedelta(days=1))
    if recent.count() >= settings.LOOKUP_CODES_PER_CLIENT_PER_DAY:
        retry_at = recent.order_by("created_at").first().created_at + timedelta(days=1)
        raise Refusal(_("Too many codes were asked for from your network today. You can ask again after %(time)s.")
                      % {"time": _local_time(retry_at)}, code="daily_cap", retry_at=retry_at)
    withheld = _number_withholds(phone_hash=phone_hash, client_hash=client_hash, purpose=purpose, now=now)
    if withheld:
        # Kept as a spent row without a code: the request counts against the client's own cap just as one
        # that sent a code, so that cap cannot tell the client which numbers were withheld.
        VerificationCode.objects.create(phone_hash=phone_hash, client_hash=client_hash, code_hash="", purpose=purpose,
                                        created_at=now, expires_at=now, used_at=now)
        logger.info("verification code withheld (%s)", withheld)
        return None
    _sms_budget_spend(now)
    code = f"{secrets.randbelow(10**6):06d}"
    verification = VerificationCode.objects.create(
        phone_hash=phone_hash,
        client_hash=client_hash,
        code_hash=keyed_hash("code", f"{phone_hash}:{code}"),
        purpose=purpose,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.LOOKUP_CODE_TTL_SECONDS),
    )
    minutes = settings.LOOKUP_CODE_TTL_SECONDS // 60
    sms_send(
        phone_number=phone_number,
        text=f"【码号服务】验证码 {code}，{minutes} 分钟内有效。请勿告诉他人。/ Code {code}, valid {minutes} min.",
        purpose=SmsMessage.Purpose.VERIFICATION_CODE,
    )
    return verification


def _code_not_accepted() -> Refusal:
    # One answer for every way a code can fail (none sent, expired, dead, wrong): before the code is
    # proven, nothing may tell whether or when a code was sent to the number, or who else tried.
    return Refusal(
        _("This code is not right or no longer works. Check it, or ask for a new code: a code works for "
          "%(minutes)d minutes and %(tries)d tries.")
        % {"minutes": settings.LOOKUP_CODE_TTL_SECONDS // 60, "tries": settings.LOOKUP_CODE_MAX_WRONG},
        code="code_not_accepted",
    )


def verification_code_check(*, phone_number: str, code: str, purpose: str = "lookup") -> None:
    """Accept the latest code for the number once; wrong tries are counted and a code dies after five.
    The count is committed before the refusal is raised, so a caller's rollback cannot undo it."""
    phone_hash = keyed_hash("phone", normalize_phone(phone_number))
    accepted = False
    with transaction.atomic():
        verification = (
            VerificationCode.objects.select_for_update()
            .filter(phone_hash=phone_hash, purpose=purpose, used_at__isnull=True)
            .order_by("-created_at")
            .first()
        )
        if verification is None or verification.wrong_tries >= settings.LOOKUP_CODE_MAX_WRONG:
            pass
        elif not hmac.compare_digest(verification.code_hash, keyed_hash("code", f"{phone_hash}:{(code or '').strip()}")):
            verification.wrong_tries += 1
            verification.save(update_fields=["wrong_tries"])
        elif timezone.now() <= verification.expires_at:
            verification.used_at = timezone.now()
            verification.save(update_fields=["used_at"])
            accepted = True
    if not accepted:
        raise _code_not_accepted()


# --- Lookups --------------------------------------------------------------------------------------------

ID_LAST6 = re.compile(r"\d{5}[\dX]")


def normalize_id_last6(raw: str) -> str:
    value = (raw or "").strip().upper()
    if not ID_LAST6.fullmatch(value):
        raise ValidationError(
            _("Enter the last 6 characters of your ID card: five digits, then a digit or X."), code="invalid_id_last6"
        )
    return value


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
    payload = protocol.identity_check_request(request_id=secrets.token_hex(16), phone_e164=to_e164(phone_number),
                                              id_challenge=challenge)
    url = integration.base_url.rstrip("/") + protocol.IDENTITY_CHECK_PATH
    try:
        keys = integration_secrets(integration)
        reply = protocol.post_signed(url, payload, keys=keys, timeout_s=integration.timeout_ms / 1000)
        if reply.status != 200:
            raise protocol.ProtocolError(f"HTTP {reply.status}")
        protocol.verify(reply.headers, reply.body, keys=keys, remember=False)
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
    verification_code_check(phone_number=phone_number, code=code)  # commits its own count of wrong tries
    _one_lookup_per_day(phone_hash)  # a limit on the number: told only to whoever proved it
    # After the code, so every guess at the ID characters costs a new SMS code (and its limits).
    identity = identity_check(phone_number=phone_number, id_last6=id_last6)
    if identity == "false":
        raise Refusal(
            _("The last 6 characters of the ID card do not match the carrier's real-name record for this number. "
              "Check them and ask for a new code."),
            code="identity_mismatch",
        )
    return lookup_create(phone_number=phone_number, id_last6=id_last6, identity=identity)


def lookup_create(*, phone_number: str, id_last6: str | None, identity: str,
                  origin: str = Lookup.Origin.CITIZEN) -> tuple[Lookup, str]:
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
            holder_since=selectors.holder_since(phone_number),  # from the carriers' reports
            identity_check=identity,
            access_token_hash=token_hash(token),
            created_at=now,
            apps_total=len(apps),
            origin=origin,
        )
        grace = timedelta(seconds=settings.LOOKUP_DEADLINE_GRACE_SECONDS)
        rows, called = [], []
        for app in apps:
            row = {"app_id": app["integration__app_id"], "request_id": uuid.uuid4(), "deadline_at": now + grace,
                   "started_at": now}
            failures = app["integration__consecutive_failures"]
            if fanout.circuit_open(consecutive_failures=failures, last_failure_at=app["integration__last_failure_at"], now=now):
                # skipped and shown unavailable: no call, no attempt
                row |= {"state": LookupQuery.State.UNAVAILABLE, "error": fanout.unavailable_error(failures), "finished_at": now}
            else:
                # handed to a worker as soon as this commits: running, first attempt. The member gets
                # only a random challenge; the row keeps it and a keyed hash of the portal's own digest
                # of the holder's characters under it (the characters themselves are never stored),
                # until the row settles.
                row |= {"state": LookupQuery.State.RUNNING, "attempts": 1,
                        "id_check": fanout.id_check_row(id_last6, key_id=app["key_id"]) if id_last6
                        else fanout.id_check_row_without_holder(key_id=app["key_id"]),
                        "deadline_at": now + timedelta(milliseconds=app["integration__timeout_ms"]) + grace}
                called.append((row, app))
            rows.append(row)
        _lookup_queries_insert(lookup, rows)
        phone_e164 = to_e164(phone_number)
        specs = [
            fanout.call_spec(
                query_id=row["id"], lookup_id=lookup.pk, request_id=row["request_id"], id_check=row["id_check"],
                integration_id=app["integration_id"], base_url=app["integration__base_url"],
                timeout_ms=app["integration__timeout_ms"], rps=app["integration__max_requests_per_second"],
                phone_e164=phone_e164, holder_since=lookup.holder_since, attempt=1,
            )
            for row, app in called
        ]
        if specs:
            transaction.on_commit(lambda: lookup_dispatch_calls(specs=specs))
        else:  # no member to call (none, or only unavailable ones): settled already
            transaction.on_commit(lambda: fanout.finish_lookups({str(lookup.pk)}))
    return lookup, token


_QUERY_COLUMNS = ("id", "lookup_id", "app_id", "request_id", "id_check", "state", "error", "attempts", "duration_ms",
                  "started_at", "finished_at", "deadline_at", "accounts", "accounts_total", "accounts_previous")


def _lookup_queries_insert(lookup: Lookup, rows: list[dict]) -> None:
    """Insert a lookup's rows (dicts of LookupQuery fields; each gets its "id") with COPY from plain
    values, ids taken from the sequence first: with a few hundred member apps, bulk_create's model
    instances and per-value preparation were most of a lookup's start."""
    if not rows:
        return
    table = LookupQuery._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)", [len(rows)])
        for row, (pk,) in zip(rows, cursor.fetchall(), strict=True):
            row["id"] = pk
        # what the model would fill in for a column a row leaves out
        defaults = {column: LookupQuery._meta.get_field(column).get_default() for column in _QUERY_COLUMNS} | {"lookup_id": lookup.pk}
        with cursor.cursor.copy(f"COPY {table} ({', '.join(_QUERY_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                values = defaults | row
                values["id_check"], values["accounts"] = json.dumps(values["id_check"]), json.dumps(values["accounts"])
                copy.write_row([values[column] for column in _QUERY_COLUMNS])


def lookup_dispatch_calls(*, specs: list[dict]) -> None:
    """The first attempt of a new lookup: each task gets its calls ready-made, so a worker starts
    calling members without reading the rows first (retries and the sweeper go by row ids). The calls
    hold the number, so they travel sealed with the field keys: the broker (and Celery's `argsrepr`)
    never sees a number in clear."""
    from portal.tasks import lookup_calls_run

    size = settings.LOOKUP_BATCH_SIZE
    for start in range(0, len(specs), size):
        lookup_calls_run.delay(fanout.seal_specs(specs[start : start + size]))


def lookup_dispatch(*, query_ids: list[int]) -> None:
    """Nudge workers: one task per batch of queries, so the calls share a task's overhead."""
    from portal.tasks import lookup_queries_run

    size = settings.LOOKUP_BATCH_SIZE
    for start in range(0, len(query_ids), size):
        lookup_queries_run.delay(query_ids[start : start + size])


def lookup_complete_if_settled(*, lookup_id) -> Lookup | None:
    """When every row has settled: keep the counts, mark the lookup completed, send the summary SMS.
    Idempotent: a completed lookup is left alone."""
    with transaction.atomic():
        lookup = Lookup.objects.select_for_update().get(pk=lookup_id)
        if lookup.state == Lookup.State.COMPLETED:
            return lookup
        # plain tuples, not 200 model instances: this runs on the path from the last answer to "completed"
        rows = list(lookup.queries.values_list("state", "app__name", "accounts_total", "accounts_previous"))
        if any(state not in LookupQuery.SETTLED for state, *_rest in rows):
            return None
        with_accounts = [(name, total) for _state, name, total, _previous in rows if total]
        lookup.state = Lookup.State.COMPLETED
        lookup.completed_at = timezone.now()
        lookup.apps_with_accounts = len(with_accounts)
        lookup.accounts_total = sum(total for _state, _name, total, _previous in rows)
        lookup.accounts_previous = sum(previous for *_rest, previous in rows)
        if lookup.phone_number:
            if with_accounts:
                counts = "，".join(f"{name} {total} 个" for name, total in with_accounts)
                text = (
                    f"【码号服务】您的号码账号查询已完成：{counts}，共 {lookup.accounts_total} 个账号，"
                    f"其中 {lookup.accounts_previous} 个可能属于前机主。可按各应用的说明解绑。"
                )
            else:
                text = "【码号服务】您的号码账号查询已完成：未查到成员应用下注册的账号。"
            sms_send(phone_number=lookup.phone_number, text=text, purpose=SmsMessage.Purpose.LOOKUP_SUMMARY)
            lookup.summary_sms_sent_at = timezone.now()
        lookup.save()  # once: the counts, the state and when the summary SMS was queued
    return lookup


def lookup_sweep() -> int:
    """Re-send rows stuck past their deadline (a killed worker, a lost message); rows out of attempts
    settle. Also completes lookups whose rows all settled but which were not marked. A statement per
    kind of outcome, not per row: after a broker restart thousands of rows may be stuck at once."""
    State = LookupQuery.State
    now = timezone.now()
    stuck = (
        LookupQuery.objects.filter(state__in=[State.WAITING, State.RUNNING], deadline_at__lt=now)
        .order_by("pk")
        .values_list("pk", "lookup_id", "state", "error", "attempts", "app__integration__timeout_ms")[:5000]
    )
    settle, resend, touched = defaultdict(list), defaultdict(list), set()
    for pk, lookup_id, state, error, attempts, timeout_ms in stuck:
        if attempts >= settings.LOOKUP_MAX_ATTEMPTS:
            awaiting_callback = state == State.RUNNING and error == fanout.AWAITING_CALLBACK
            settled_as = State.TIMED_OUT if state == State.RUNNING else State.ERROR
            reason = (_("no callback before the deadline") if awaiting_callback
                      else _("no answer after %(n)d attempts") % {"n": attempts})
            settle[(state, settled_as, reason)].append(pk)
            touched.add(lookup_id)
        else:
            resend[timeout_ms].append(pk)
    for (state, settled_as, reason), ids in settle.items():  # only rows still as read: a late answer wins
        LookupQuery.objects.filter(pk__in=ids, state=state).update(state=settled_as, error=reason, finished_at=now, id_check={})
    grace = timedelta(seconds=settings.LOOKUP_DEADLINE_GRACE_SECONDS)
    for timeout_ms, ids in resend.items():
        LookupQuery.objects.filter(pk__in=ids).update(deadline_at=now + timedelta(milliseconds=timeout_ms) + grace)
    resend_ids = sorted(pk for ids in resend.values() for pk in ids)
    if resend_ids:
        lookup_dispatch(query_ids=resend_ids)
    running = Lookup.objects.filter(state=Lookup.State.RUNNING).exclude(
        queries__state__in=[LookupQuery.State.WAITING, LookupQuery.State.RUNNING]
    )
    for lookup_id in set(running.values_list("pk", flat=True)) | touched:
        lookup_complete_if_settled(lookup_id=lookup_id)
    return len(resend_ids)


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
    NumberCheckAudit.objects.filter(checked_at__lt=timezone.now() - timedelta(days=settings.NUMBER_CHECK_AUDIT_RETENTION_DAYS)).delete()
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
    protocol.verify_caller(headers, body, secrets_for_key_id=lambda key_id: integration_secrets(integration, key_id),
                           replay_scope=f"callback:{integration.pk}")
    accounts = fanout.account_rows(protocol.parse_account_lookup_answer(body), query.lookup.holder_since,
                                   id_expected=query.id_check.get("expected", ""))
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
    fanout.finish_lookups({str(query.lookup_id)})
    return query


# --- Carriers' number events ---------------------------------------------------------------------------

NUMBER_EVENTS_MAX_BATCH = 10_000
NUMBER_EVENT_FIELDS = ("event_id", "phone_number", "type", "occurred_at")

# Why a row was refused, by code. The API answers in English (its contract); the carrier console's
# rejected-rows file is in the reader's language.
NUMBER_EVENT_REJECTIONS = {
    "not_object": gettext_lazy("an event must be an object"),
    "missing": gettext_lazy("missing {fields}"),
    "event_id": gettext_lazy("event_id must be a string of 1 to 100 characters"),
    "phone_number": gettext_lazy("phone_number is not a mainland mobile number (+86 and 11 digits starting 1[3-9])"),
    "type": gettext_lazy("type must be one of {types}"),
    "occurred_at": gettext_lazy("occurred_at must be an ISO 8601 time with its offset, e.g. 2026-05-01T08:00:00+08:00"),
    "future": gettext_lazy("occurred_at is in the future"),
    "columns": gettext_lazy("expected 4 columns (event_id, phone_number, type, occurred_at), found {count}"),
}


def number_event_rejection_text(code: str, detail: str = "") -> str:
    """The reason for a refused row in the active language."""
    text = str(NUMBER_EVENT_REJECTIONS.get(code, code))
    return text.format(fields=detail, types=", ".join(NumberEvent.Type.values), count=detail)


def _parse_number_event(raw, latest) -> tuple[dict | None, str, str]:
    """One event checked: (event, "", "") or (None, reason code, detail). Runs once per row of every
    batch, so it stays lean (a million rows a file)."""
    if not isinstance(raw, dict):
        return None, "not_object", ""
    try:
        event_id, phone, kind, occurred = raw["event_id"], raw["phone_number"], raw["type"], raw["occurred_at"]
    except KeyError:
        return None, "missing", ", ".join(k for k in NUMBER_EVENT_FIELDS if k not in raw)
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= 100 or "\x00" in event_id:
        return None, "event_id", ""
    phone = phone if isinstance(phone, str) else str(phone)
    try:
        phone = normalize_phone(phone)
    except ValidationError:
        return None, "phone_number", ""
    if not isinstance(kind, str) or kind not in _NUMBER_EVENT_TYPES:
        return None, "type", ""
    occurred_at = None
    if isinstance(occurred, str):
        try:
            occurred_at = datetime.fromisoformat(occurred)
        except ValueError:
            try:
                occurred_at = parse_datetime(occurred)  # the few ISO 8601 forms Python's parser does not take
            except ValueError:
                pass
    if occurred_at is None or occurred_at.tzinfo is None:
        return None, "occurred_at", ""
    if occurred_at > latest:
        return None, "future", ""
    return {"event_id": event_id, "phone_number": phone, "type": kind, "occurred_at": occurred_at}, "", ""


_NUMBER_EVENT_TYPES = frozenset(NumberEvent.Type.values)


def number_events_ingest(*, carrier, events: list) -> dict:
    """Keep a carrier's batch of number events. Idempotent on (carrier, event_id); each bad row is
    reported with its index, reason (English) and reason code, and the good rows are kept. A
    re-assignment sooner than 90 days after the number's last cancellation is flagged as a
    freeze-period breach. The API and the console's CSV uploads both come through here."""
    if len(events) > NUMBER_EVENTS_MAX_BATCH:
        raise Refusal(f"at most {NUMBER_EVENTS_MAX_BATCH} events a batch; this one has {len(events)}", code="batch_too_large")
    latest = timezone.now() + timedelta(days=1)
    rejected, good, seen = [], [], set()
    with translation.override("en"):
        for index, raw in enumerate(events):
            event, code, detail = _parse_number_event(raw, latest)
            if event is None:
                rejected.append({"index": index, "reason": number_event_rejection_text(code, detail), "code": code, "detail": detail})
            elif event["event_id"] not in seen:
                seen.add(event["event_id"])
                good.append(event)
    inserted = _number_events_insert(carrier_id=carrier.pk, events=good)
    if inserted:
        transaction.on_commit(notices_plan_soon)  # member apps hear of them (portal/notices.py)
    return {
        "accepted": len(inserted),
        "duplicates": len(events) - len(rejected) - len(inserted),
        "rejected": rejected,
        "freeze_breaches": sum(inserted.values()),
    }


def _latest_cancellation_in_batch(events: list[dict]) -> dict[int, object]:
    """For each re-assignment (by position), the latest cancellation of its number in the same batch
    at or before it; the stored ones are looked up by the database."""
    reassigned = {e["phone_number"] for e in events if e["type"] == NumberEvent.Type.REASSIGNED}
    cancelled: dict[str, list] = {}
    for e in events:
        if e["type"] == NumberEvent.Type.CANCELLED and e["phone_number"] in reassigned:
            cancelled.setdefault(e["phone_number"], []).append(e["occurred_at"])
    latest = {}
    for i, e in enumerate(events):
        if e["type"] == NumberEvent.Type.REASSIGNED and e["phone_number"] in cancelled:
            latest[i] = max((at for at in cancelled[e["phone_number"]] if at <= e["occurred_at"]), default=None)
    return latest


def _pg_array(values, *, quote: bool = True) -> str:
    """A PostgreSQL array literal: one parameter for 10,000 values, several times cheaper to send than
    a Python list adapted element by element. None is NULL; quote=False only for values that cannot
    hold a comma, quote, brace, backslash or space (validated digits, types, ISO times)."""
    if quote:
        items = ("NULL" if v is None else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    else:
        items = ("NULL" if v is None else v for v in values)
    return "{" + ",".join(items) + "}"


def _number_events_insert(*, carrier_id: int, events: list[dict]) -> dict[str, bool]:
    """Insert the events not stored yet and flag freeze-period breaches (a re-assignment sooner than
    FREEZE_DAYS after the number's latest cancellation before it, stored or in this batch; a batch sent
    again finds its own cancellations stored, with the same answer). Returns the event ids inserted,
    each with its breach flag, in one statement (ON CONFLICT DO NOTHING: a concurrent resend is a
    no-op)."""
    if not events:
        return {}
    now = timezone.now()
    in_batch = _latest_cancellation_in_batch(events)
    table = NumberEvent._meta.db_table
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        # The planner's guess for the per-row subquery is high enough to switch on JIT compilation,
        # which cost three times the statement itself (bench/ingest.py).
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(
            f"""INSERT INTO {table} (carrier_id, event_id, phone_number, type, occurred_at, received_at,
                                     freeze_breach, days_since_cancellation)
                SELECT %s, e.event_id, e.phone_number, e.type, e.occurred_at, %s, coalesce(c.days < %s, false), c.days
                FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], %s::timestamptz[], %s::timestamptz[])
                     AS e(event_id, phone_number, type, occurred_at, cancelled_in_batch)
                CROSS JOIN LATERAL (
                    SELECT CASE WHEN e.type = 'reassigned' THEN floor(extract(epoch FROM e.occurred_at - greatest(
                        e.cancelled_in_batch,
                        (SELECT max(n.occurred_at) FROM {table} n
                         WHERE n.phone_number = e.phone_number AND n.type = 'cancelled' AND n.occurred_at <= e.occurred_at)
                    )) / 86400)::integer END AS days
                    OFFSET 0  -- computed once per row, not once per use of c.days
                ) c
                ON CONFLICT (carrier_id, event_id) DO NOTHING
                RETURNING event_id, freeze_breach""",
            [carrier_id, now, NumberEvent.FREEZE_DAYS,
             _pg_array(e["event_id"] for e in events),
             _pg_array((e["phone_number"] for e in events), quote=False),
             _pg_array((e["type"] for e in events), quote=False),
             _pg_array((e["occurred_at"].isoformat() for e in events), quote=False),
             _pg_array((at.isoformat() if (at := in_batch.get(i)) else None for i in range(len(events))), quote=False)],
        )
        return dict(cursor.fetchall())


# --- Carriers' CSV uploads (the console's monthly file) --------------------------------------------------
# Columns: event_id, phone_number, type, occurred_at (as in the API), UTF-8 with or without BOM. A header
# row naming the four columns (in any order) is optional; without one they come in that order.

UPLOAD_SNIFF_BYTES = 64 * 1024


def _upload_columns(head: bytes, *, complete: bool) -> tuple[list[str], int, int]:
    """From the file's first bytes: the column order, where the data start (after a BOM and a header)
    and the lines skipped. A clear ValidationError for a file that is no CSV of number events."""
    if b"\x00" in head:
        raise ValidationError(_("This is not a text file. Save the sheet as “CSV UTF-8 (comma delimited)” and upload that."), code="not_text")
    bom = len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
    first, newline, _rest = head[bom:].partition(b"\n")
    if not newline and not complete:
        raise ValidationError(_("The first line is too long for a file of number events."), code="columns")
    try:  # up to the last whole line read (a cut may split a character)
        head[bom:].decode("utf-8") if complete else head[bom : head.rfind(b"\n") + 1].decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError(
            _("The file is not UTF-8 text (it may be GBK or a spreadsheet). Save it as “CSV UTF-8” and upload it again."), code="not_utf8"
        ) from None
    cells = next(csv.reader([first.decode("utf-8").strip("\r")]), [])
    names = [c.strip().lower() for c in cells]
    expected = list(NUMBER_EVENT_FIELDS)
    if sorted(names) == sorted(expected):
        return names, bom + len(first) + len(newline), 1
    looks_like_header = any(n in expected for n in names) or not any(ch.isdigit() for ch in "".join(names))
    if looks_like_header or len(cells) != len(expected):
        raise ValidationError(
            _("The columns must be %(expected)s (a header row naming them is optional). This file's first row has: %(found)s.")
            % {"expected": ", ".join(expected), "found": ", ".join(c.strip() for c in cells)[:200] or _("nothing")},
            code="columns",
        )
    return expected, bom, 0


def number_event_upload_create(*, carrier, uploaded_by, file) -> NumberEventUpload:
    """Check a carrier's CSV file (name, size, encoding, columns), keep it outside the web root and read
    it in the background. The rows themselves are checked as they are read; bad ones are listed."""
    from portal.tasks import number_event_upload_run

    if not carrier.is_carrier:
        raise ValidationError(_("Only carriers and MVNOs report number events."), code="not_carrier")
    name = os.path.basename(file.name or "")[:255]
    if not name.lower().endswith(".csv"):
        raise ValidationError(_("Choose a CSV file (a name ending in .csv)."), code="not_csv")
    if file.size > settings.NUMBER_EVENT_UPLOAD_MAX_BYTES:
        raise ValidationError(
            _("The file is %(size)s; at most %(max)s can be uploaded at once. Split it into several files.")
            % {"size": filesizeformat(file.size), "max": filesizeformat(settings.NUMBER_EVENT_UPLOAD_MAX_BYTES)},
            code="too_big",
        )
    if not file.size:
        raise ValidationError(_("The file is empty."), code="empty")
    file.seek(0)
    head = file.read(UPLOAD_SNIFF_BYTES)
    columns, data_start, header_lines = _upload_columns(head, complete=file.size <= UPLOAD_SNIFF_BYTES)
    folder = Path(settings.NUMBER_EVENT_UPLOAD_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    stored_name = f"{secrets.token_hex(16)}.csv"
    path = folder / stored_name
    file.seek(0)
    with open(path, "wb") as out:
        for chunk in file.chunks():
            out.write(chunk)
    try:
        with transaction.atomic():
            upload = NumberEventUpload.objects.create(
                carrier=carrier, uploaded_by=uploaded_by, original_name=name, stored_name=stored_name, size_bytes=file.size,
                columns=columns, bytes_read=data_start, lines_read=header_lines,
            )
            transaction.on_commit(lambda: number_event_upload_run.delay(upload.pk))
    except Exception:
        path.unlink(missing_ok=True)
        raise
    return upload


def _upload_path(upload) -> Path:
    return Path(settings.NUMBER_EVENT_UPLOAD_DIR) / upload.stored_name


class _UploadReader:
    """The rows of an upload from a byte offset, counting bytes and lines so the position after any row
    can be stored and resumed from. Streams: memory stays flat for a file of any size."""

    def __init__(self, upload):
        self.file = open(_upload_path(upload), "rb")
        self.file.seek(upload.bytes_read)
        self.position, self.first_line = upload.bytes_read, upload.lines_read
        self.reader = csv.reader(self._lines())

    def _lines(self):
        for raw in self.file:
            self.position += len(raw)
            yield raw.decode("utf-8", errors="replace")  # a bad byte spoils its row only: that row is rejected

    def rows(self, limit: int) -> list[tuple[int, list[str]]]:
        """Up to `limit` non-blank rows, each with the line it starts on."""
        rows = []
        while len(rows) < limit:
            line = self.first_line + self.reader.line_num + 1
            try:
                row = next(self.reader)
            except StopIteration:
                break
            except csv.Error as error:  # e.g. a quote never closed: reject what is left as one row
                rows.append((line, [str(error)]))
                break
            cells = [cell.strip() for cell in row]
            if any(cells):
                rows.append((line, cells))
        return rows

    @property
    def lines(self) -> int:
        return self.first_line + self.reader.line_num

    def close(self):
        self.file.close()


def number_event_upload_process(*, upload_id: int, seconds: float | None = None) -> bool:
    """Read an upload a chunk (one API batch) at a time for about `seconds`; True if more is left.
    Each chunk's events, rejected rows and counters commit together under the upload's row lock, so a
    second task for the same file waits or leaves, and a killed worker's chunk is simply read again."""
    seconds = settings.NUMBER_EVENT_UPLOAD_TASK_SECONDS if seconds is None else seconds
    started, reader = time.monotonic(), None
    try:
        while True:
            with transaction.atomic():
                try:
                    upload = NumberEventUpload.objects.select_for_update(nowait=True, of=("self",)).select_related("carrier").get(pk=upload_id)
                except DatabaseError:
                    return False  # another task is reading this file right now
                if upload.is_done:
                    return False
                if reader is None or reader.position != upload.bytes_read:
                    if reader:
                        reader.close()
                    try:
                        reader = _UploadReader(upload)
                    except FileNotFoundError:
                        upload.state, upload.error, upload.finished_at = NumberEventUpload.State.FAILED, _("The stored file is gone."), timezone.now()
                        upload.save()
                        return False
                rows = reader.rows(settings.NUMBER_EVENT_UPLOAD_CHUNK_ROWS)
                events, event_rows, rejections = [], [], []
                for line, cells in rows:
                    if len(cells) != len(upload.columns):
                        rejections.append(NumberEventUploadRejection(upload=upload, line=line, code="columns", detail=str(len(cells)), row=cells[:10]))
                    else:
                        events.append(dict(zip(upload.columns, cells)))
                        event_rows.append((line, cells))
                result = number_events_ingest(carrier=upload.carrier, events=events)
                for refused in result["rejected"]:
                    line, cells = event_rows[refused["index"]]
                    rejections.append(NumberEventUploadRejection(upload=upload, line=line, code=refused["code"], detail=refused["detail"], row=cells))
                NumberEventUploadRejection.objects.bulk_create(rejections, ignore_conflicts=True)
                upload.rows_read += len(rows)
                upload.rows_accepted += result["accepted"]
                upload.rows_duplicate += result["duplicates"]
                upload.rows_rejected += len(rejections)
                upload.freeze_breaches += result["freeze_breaches"]
                upload.bytes_read, upload.lines_read = reader.position, reader.lines
                upload.progress_at = timezone.now()
                upload.state = NumberEventUpload.State.RUNNING
                if len(rows) < settings.NUMBER_EVENT_UPLOAD_CHUNK_ROWS:
                    upload.state, upload.finished_at = NumberEventUpload.State.COMPLETED, timezone.now()
                upload.save()
            if upload.state == NumberEventUpload.State.COMPLETED:
                _upload_path(upload).unlink(missing_ok=True)  # the events are stored; the file held phone numbers
                return False
            if time.monotonic() - started >= seconds:
                return True
    finally:
        if reader:
            reader.close()


def number_event_uploads_sweep() -> int:
    """Re-queue uploads no worker has advanced for two minutes (a killed worker, a lost message), and
    clear the values of rejected rows after the retention period (their line and reason stay)."""
    from portal.tasks import number_event_upload_run

    stuck = list(
        NumberEventUpload.objects.filter(
            state__in=[NumberEventUpload.State.QUEUED, NumberEventUpload.State.RUNNING],
            progress_at__lt=timezone.now() - timedelta(minutes=2),
        ).values_list("pk", flat=True)
    )
    for upload_id in stuck:
        number_event_upload_run.delay(upload_id)
    cutoff = timezone.now() - timedelta(days=settings.NUMBER_EVENT_UPLOAD_RETENTION_DAYS)
    NumberEventUploadRejection.objects.filter(upload__created_at__lt=cutoff).exclude(row=[]).update(row=[])
    return len(stuck)


NUMBER_CHECKS_MAX_BATCH = 1000


@dataclass(frozen=True)
class CheckClient:
    """The member system asking a recycling check: its rate limit's and the audit trail's "who"."""

    organisation_id: int | None
    integration_id: int
    key_id: str


def number_check_rate_exceeded(*, by: CheckClient, api: str, numbers: int = 1) -> float | None:
    """Count a client's checks (portal/ratelimit.py, shared by every instance): CAMARA checks a second, the
    bulk check's numbers a minute, per integration (its two keys during a rotation share one count). The
    seconds until the client may check again, or None."""
    if api == NumberCheckAudit.Api.CAMARA:
        return ratelimit.exceeded("camara-check", by.integration_id, limit=settings.NUMBER_CHECKS_PER_SECOND)
    return ratelimit.exceeded("bulk-check", by.integration_id, limit=settings.NUMBER_CHECK_BULK_NUMBERS_PER_MINUTE,
                              seconds=60, amount=numbers)


NUMBER_CHECK_AUDIT_BUFFER = "portal:number-check-audit"
NUMBER_CHECK_AUDIT_BATCH = 200  # calls a statement: 200 rows from CAMARA checks, up to 200,000 from bulk checks


def number_check_audit_record(*, by: CheckClient, api: str, answers: list[tuple[str, object, str]]) -> None:
    """Keep who checked which numbers (`(number, date, answer)`, the number as its keyed hash): one call's
    checks are one item of a Redis list, appended in one round trip and written to the table in batches by
    `number_check_audit_flush` (every 5 s). A row a check written at once would cost the CAMARA check a
    commit each. Written at once if Redis fails."""
    if not answers:
        return
    record = json.dumps([uuid.uuid4().int, time.time(), api, by.organisation_id, by.integration_id, by.key_id,
                         [(keyed_hash("phone", phone), str(since), answer) for phone, since, answer in answers]])
    try:
        ratelimit.redis_client().rpush(NUMBER_CHECK_AUDIT_BUFFER, record)
        return
    except Exception:  # Redis trouble: the trail is written now rather than lost
        logger.exception("number-check audit: buffering failed, writing at once")
    _number_check_audit_write([record])


def _number_check_audit_write(records: list) -> int:
    """One INSERT for many calls' checks. Each row's id is its call's id plus its place in the call, so records
    read again (a flush that died before trimming the buffer) are kept once (ON CONFLICT DO NOTHING)."""
    from datetime import timezone as dt_timezone

    columns: list[list] = [[] for _ in range(9)]
    for raw in records:
        call_id, at, api, organisation_id, integration_id, key_id, checks = json.loads(raw)
        checked_at = datetime.fromtimestamp(at, tz=dt_timezone.utc)
        for index, (phone_hash, since, answer) in enumerate(checks):
            for column, value in zip(columns, (uuid.UUID(int=(call_id + index) % 2**128), checked_at, api, organisation_id,
                                               integration_id, key_id, phone_hash, since, answer)):
                column.append(value)
    if not columns[0]:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {NumberCheckAudit._meta.db_table} (id, checked_at, api, organisation_id, integration_id, key_id,"
            " phone_hash, specified_date, answer) SELECT * FROM unnest(%s::uuid[], %s::timestamptz[], %s::text[],"
            " %s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::date[], %s::text[]) ON CONFLICT (id) DO NOTHING",
            columns,
        )
    return len(columns[0])


def number_check_audit_flush() -> int:
    """Move the buffered audit records to the table, a batch of calls at a time: read, written, then trimmed
    from the buffer, so a worker killed in between leaves them to be read again. One flush at a time."""
    from django.core.cache import cache

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
    answer = NumberCheckAudit.Answer.NO_DATA if recycled is None else (NumberCheckAudit.Answer.YES if recycled else NumberCheckAudit.Answer.NO)
    number_check_audit_record(by=by, api=NumberCheckAudit.Api.CAMARA, answers=[(national or phone_number, since, answer)])
    return recycled


def number_checks(*, checks: list, by: CheckClient) -> list[dict]:
    """Answer each `{phone_number, date}`: yes (changed hands since), no, no_data, or invalid with a reason.
    Each valid check is kept in the audit trail."""
    from datetime import date as date_type

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
    number_check_audit_record(by=by, api=NumberCheckAudit.Api.BULK,
                              answers=[(phone, since, result["answer"]) for result, phone, since in valid])
    return results


# --- Unbinding (一键解绑) --------------------------------------------------------------------------------


class UnbindRetry(Exception):
    """Delivery failed; the task tries again after `countdown` seconds."""

    def __init__(self, reason: str, *, countdown: int):
        super().__init__(reason)
        self.countdown = countdown


UNBIND_LEASE_SECONDS = 60  # a delivery claimed by a worker that died is swept up after this


def _unbind_delivery_for(app) -> str:
    """Push to platforms that take `/v2/unbind` and can be reached; the others fetch from the queue."""
    integration = getattr(app, "integration", None)
    if app.supports_unbind and integration is not None and integration.enabled and integration.signing_key() is not None:
        return UnbindRequest.Delivery.PUSH
    return UnbindRequest.Delivery.PULL


def unbind_request_create(*, lookup: Lookup, app_ids: list[int] | None = None) -> list[UnbindRequest]:
    """Ask member apps to remove the bindings of the previous holder that a lookup found: the given
    apps, or all of them (一键解绑). One request per lookup and app; asking again returns the request
    already made (`created_now` tells them apart). Push deliveries are sent once this commits."""
    from portal.workdays import add_working_days

    if lookup.purged_at or not lookup.phone_number:
        raise Refusal(_("This lookup is too old: its details were deleted. Run a new lookup."), code="lookup_purged")
    candidates = selectors.unbind_candidates(lookup)
    if app_ids is not None:
        wanted = {int(a) for a in app_ids}
        unknown = wanted - {q.app_id for q in candidates}
        if unknown:
            raise Refusal(_("This app found no account likely to be the previous holder's, so there is nothing to unbind."),
                          code="nothing_to_unbind")
        candidates = [q for q in candidates if q.app_id in wanted]
    if not candidates:
        raise Refusal(_("No app found an account likely to be the previous holder's, so there is nothing to unbind."),
                      code="nothing_to_unbind")
    now = timezone.now()
    deadline = add_working_days(now, settings.UNBIND_WORKING_DAYS)
    made = []
    with transaction.atomic():
        existing = {r.app_id: r for r in UnbindRequest.objects.select_for_update().filter(lookup=lookup)}
        for query in candidates:
            if query.app_id in existing:
                existing[query.app_id].app = query.app  # the candidate's app: unbind_view reads its name without a query
                existing[query.app_id].created_now = False
                made.append(existing[query.app_id])
                continue
            previous = [a for a in query.accounts if a.get("likely_previous")]
            delivery = _unbind_delivery_for(query.app)
            made.append(UnbindRequest.objects.create(
                lookup=lookup, app=query.app, delivery=delivery,
                accounts=[{"account_ref": a["account_ref"], "registered_on": a["registered_on"]} for a in previous],
                accounts_count=len(previous), created_at=now, deadline_at=deadline,
                next_attempt_at=now if delivery == UnbindRequest.Delivery.PUSH else None,
            ))
            made[-1].created_now = True
        push = [r.pk for r in made if r.delivery == UnbindRequest.Delivery.PUSH and r.app_id not in existing]
        transaction.on_commit(lambda: unbind_dispatch(request_ids=push))
    return made


def unbind_dispatch(*, request_ids: list[int]) -> None:
    from portal.tasks import unbind_request_deliver

    for request_id in request_ids:
        unbind_request_deliver.delay(request_id)


def unbind_deliver(*, request_id: int) -> str:
    """Send one unbind request to its platform (protocol v2 `POST /v2/unbind`) and record the answer.

    Idempotent: only a queued push request whose attempt is due is claimed (one UPDATE), so a repeated
    or late message changes nothing. Raises UnbindRetry while attempts are left."""
    from django.db.models import F

    now = timezone.now()
    claimed = UnbindRequest.objects.filter(
        pk=request_id, state=UnbindRequest.State.QUEUED, delivery=UnbindRequest.Delivery.PUSH,
        next_attempt_at__isnull=False, next_attempt_at__lte=now + timedelta(seconds=2),
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + timedelta(seconds=UNBIND_LEASE_SECONDS))
    if not claimed:
        return "skipped"
    request = UnbindRequest.objects.select_related("app__integration", "lookup").get(pk=request_id)
    integration = request.app.integration
    key = integration.signing_key()
    try:
        if not request.lookup.phone_number or key is None:
            raise protocol.ProtocolError("the number was purged" if key else "the integration has no valid key")
        payload = protocol.unbind_request(
            request_id=str(request.public_id), phone_e164="+86" + request.lookup.phone_number,
            holder_since=request.lookup.holder_since, accounts=request.accounts,
        )
        url = integration.base_url.rstrip("/") + protocol.UNBIND_PATH
        keys = integration_secrets(integration)
        reply = protocol.post_signed(url, payload, keys=keys, timeout_s=settings.UNBIND_TIMEOUT_SECONDS)
        if reply.status in (200, 202):
            protocol.verify(reply.headers, reply.body, keys=keys, remember=False)
        answer = protocol.parse_unbind_answer(reply.status, reply.body)
    except (httpx.HTTPError, protocol.ProtocolError) as error:
        reason = getattr(error, "reason", "") or outbound.failure_reason(error)
        final = request.attempts >= settings.UNBIND_MAX_ATTEMPTS
        countdown = settings.UNBIND_RETRY_BASE_SECONDS * 2 ** (request.attempts - 1)
        UnbindRequest.objects.filter(pk=request.pk, state=UnbindRequest.State.QUEUED).update(
            last_error=reason[:500], next_attempt_at=None if final else timezone.now() + timedelta(seconds=countdown),
        )
        integration_health_record(succeeded=set(), failed={integration.pk: f"unbind: {reason}"}, now=timezone.now())
        logger.warning("unbind request %s to %s failed (attempt %d): %s", request.public_id, request.app, request.attempts, reason)
        if final:
            return "failed"
        raise UnbindRetry(reason, countdown=countdown) from error
    integration_health_record(succeeded={integration.pk}, failed={}, now=timezone.now())
    if answer.state == "accepted":
        UnbindRequest.objects.filter(pk=request.pk, state=UnbindRequest.State.QUEUED).update(
            state=UnbindRequest.State.SENT, sent_at=timezone.now(), next_attempt_at=None, last_error="",
        )
        return "sent"
    unbind_answer(unbind_request=request, result=answer.state, reason=answer.reason, via="protocol")
    return answer.state


class AnswerConflict(Exception):
    """The request was already answered otherwise."""


def unbind_answer(*, unbind_request: UnbindRequest, result: str, reason: str = "", via: str, by=None) -> UnbindRequest:
    """The platform's answer: done, or refused with a reason the holder reads. The first answer
    stands; the same answer again changes nothing, a different one raises AnswerConflict. The holder
    is told by SMS."""
    if result not in protocol.UNBIND_RESULTS:
        raise ValidationError(_("The answer is done or refused."), code="invalid_result")
    reason = (reason or "").strip()
    if result == "refused" and not reason:
        raise ValidationError(_("Give the reason for the refusal: the holder reads it."), code="reason_required")
    now = timezone.now()
    with transaction.atomic():
        request = UnbindRequest.objects.select_for_update().select_related("app", "lookup").get(pk=unbind_request.pk)
        if not request.is_open:
            if request.state != result:
                raise AnswerConflict(request.state)
            return request
        request.state = result
        request.refusal_reason = reason[:500] if result == "refused" else ""
        request.answered_at = now
        request.sent_at = request.sent_at or now
        request.answered_via, request.answered_by = via, by
        request.next_attempt_at = None
        request.save()
        # a renewal's holder hears once, when every app has answered (portal/carrier/services.py)
        if request.lookup.phone_number and request.lookup.origin != Lookup.Origin.CARRIER_RENEWAL:
            if result == "done":
                text = f"【码号服务】「{request.app.name}」已解除前机主账号与您号码的绑定（{request.accounts_count} 个账号）。"
            else:
                text = (f"【码号服务】「{request.app.name}」未解除绑定，原因：{request.refusal_reason[:60].rstrip('。.')}。"
                        "如有异议可在门户“解绑进度”页投诉。")
            sms_send(phone_number=request.lookup.phone_number, text=text, purpose=SmsMessage.Purpose.UNBIND)
    return request


def unbind_requests_mark_fetched(*, requests: list[UnbindRequest]) -> None:
    """A platform fetched queued requests from the pull queue: they are now with it."""
    queued = [r for r in requests if r.state == UnbindRequest.State.QUEUED]
    if queued:
        now = timezone.now()
        UnbindRequest.objects.filter(pk__in=[r.pk for r in queued], state=UnbindRequest.State.QUEUED).update(
            state=UnbindRequest.State.SENT, sent_at=now, next_attempt_at=None
        )
        for r in queued:
            r.state, r.sent_at = UnbindRequest.State.SENT, now


def unbind_sweep(*, grace_seconds: int = 5) -> int:
    """Nudge push deliveries whose attempt is overdue (a lost message, a worker killed mid-call);
    delivery is idempotent."""
    due = timezone.now() - timedelta(seconds=grace_seconds)
    ids = list(UnbindRequest.objects.filter(
        state=UnbindRequest.State.QUEUED, delivery=UnbindRequest.Delivery.PUSH, next_attempt_at__lte=due,
    ).values_list("pk", flat=True)[:1000])
    if ids:
        UnbindRequest.objects.filter(pk__in=ids).update(next_attempt_at=timezone.now())
        unbind_dispatch(request_ids=ids)
    return len(ids)


def holder_verify(*, phone_number: str, code: str, purpose: str) -> str:
    """Check an SMS code that proves the number (for pages after the lookup); returns the number's
    keyed hash, which is all the session keeps."""
    verification_code_check(phone_number=phone_number, code=code, purpose=purpose)
    return keyed_hash("phone", normalize_phone(phone_number))


# --- Recycled-number notices (portal/notices.py sends them) ----------------------------------------------


def notices_plan_soon() -> None:
    """After carriers' events arrive: plan their notices once they have settled. One nudge per settle
    period however many batches arrive; the plan task comes back while newer events are settling."""
    from django.core.cache import cache

    from portal.tasks import notices_plan

    if cache.add("notices:plan-soon", 1, timeout=selectors.FEED_SETTLE_SECONDS):
        notices_plan.apply_async(countdown=selectors.FEED_SETTLE_SECONDS + 0.5)


def _clean_subscription(webhook_url: str, event_types) -> tuple[str, str]:
    from django.core.validators import URLValidator

    webhook_url = (webhook_url or "").strip()
    try:
        URLValidator(schemes=["http", "https"])(webhook_url)
    except ValidationError:
        raise ValidationError({"webhook_url": _("Enter the full web address of your webhook, starting with https://.")}) from None
    try:
        outbound_policy.validate_url(webhook_url)  # the portal will call it: checked again at every connection
    except ValidationError as error:
        raise ValidationError({"webhook_url": error.messages}) from None
    types = sorted(set(event_types or []))
    if not types or not set(types) <= set(NumberEvent.Type.values):
        raise ValidationError({"event_types": _("Choose at least one of: cancelled, re-assigned, ported out, ported in.")})
    return webhook_url, " ".join(types)


@transaction.atomic
def notice_subscription_save(
    *, app, webhook_url: str, event_types, enabled: bool = True, secret: str = ""
) -> tuple[NoticeSubscription, str | None]:
    """Subscribe an app to recycled-number notices, or change its subscription. A new subscription
    gets its signing secret, returned here once (only its encryption is kept) and is told of events
    from now on; history is in the pull feed. `secret` is given only for reproducible demo data."""
    from portal.crypto import encrypt

    webhook_url, types = _clean_subscription(webhook_url, event_types)
    subscription = NoticeSubscription.objects.select_for_update().filter(app=app).first()
    if subscription is not None:
        if enabled and not subscription.enabled:
            subscription.notified_up_to = selectors.newest_number_event_id()  # resumes from now, not with a flood
        subscription.webhook_url, subscription.event_types, subscription.enabled = webhook_url, types, enabled
        subscription.save()
        return subscription, None
    secret = secret or protocol.new_secret()  # whsec_… (Standard Webhooks)
    subscription = NoticeSubscription.objects.create(
        app=app, webhook_url=webhook_url, event_types=types, enabled=enabled, key_id="wh_" + secrets.token_hex(8),
        secret_encrypted=encrypt(secret), notified_up_to=selectors.newest_number_event_id(),
    )
    return subscription, secret


def notice_subscription_new_secret(*, subscription: NoticeSubscription) -> str:
    """Replace the signing secret (and key id, so the member can tell them apart); returned once."""
    from portal.crypto import encrypt

    secret = protocol.new_secret()
    subscription.key_id = "wh_" + secrets.token_hex(8)
    subscription.secret_encrypted = encrypt(secret)
    subscription.save(update_fields=["key_id", "secret_encrypted", "updated_at"])
    return secret


def notice_delivery_resend(*, delivery: NoticeDelivery) -> NoticeDelivery:
    """Give a parked notice a new round of tries, starting now."""
    from portal import notices

    with transaction.atomic():
        delivery = NoticeDelivery.objects.select_for_update().get(pk=delivery.pk)
        if delivery.state != NoticeDelivery.State.PARKED:
            raise ValidationError(_("Only a parked notice can be re-sent."))
        delivery.state = NoticeDelivery.State.PENDING
        delivery.max_attempts = delivery.attempts + settings.NOTICE_MAX_ATTEMPTS
        delivery.next_attempt_at = timezone.now()
        delivery.parked_at = None
        delivery.save(update_fields=["state", "max_attempts", "next_attempt_at", "parked_at"])
        transaction.on_commit(lambda: notices.dispatch([[str(delivery.pk)]]))
    return delivery


def notice_report(*, delivery: NoticeDelivery, bindings_removed: int) -> NoticeDelivery:
    """A member says how many bindings it removed for a notice; the latest report stands."""
    delivery.bindings_removed = bindings_removed
    delivery.reported_at = timezone.now()
    delivery.save(update_fields=["bindings_removed", "reported_at"])
    return delivery
