"""The lookup fan-out: one task calls a batch of member apps concurrently, each keeping its own row.

A task claims its rows (waiting -> running), hands the calls to an asyncio loop that lives for the whole
worker process (so connections to members are kept alive between lookups), and writes each outcome to
its row as it arrives, in small batches. The database row stays the truth: a retry is a row put back
to waiting with a later deadline, and the sweeper (services.lookup_sweep) re-sends anything stuck.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from portal.core.backoff import backoff_seconds
from portal.core.crypto import decrypt, encrypt
from portal.core.enqueue import enqueue
from portal.core.phone import to_e164
from portal.core.privacy import keyed_hash
from portal.lookup.completion import finish_lookups
from portal.lookup.models import Lookup, LookupQuery
from portal.outbound import clients as outbound
from portal.outbound.loop import event_loop, http_session, rate_limiter
from registry import protocol
from registry.models import Integration
from registry.selectors import key_secrets
from registry.services import integration_health_record

logger = logging.getLogger(__name__)
State = LookupQuery.State


@dataclass
class Call:
    query_id: int
    lookup_id: str
    integration_id: int
    url: str
    body: bytes
    key_id: str
    answer_secrets: dict[str, list[str]]  # key id -> [secret] of the integration's valid keys
    timeout_s: float
    rps: int
    holder_since: date | None
    attempt: int = 1
    id_expected: str = ""  # keyed hash of the portal's digest of the holder's ID characters (id_check_row)

    @property
    def keys(self) -> list[str]:
        """Every valid key's secret: the call is signed with each (two during a rotation), and an answer
        signed under any of them is taken."""
        return [secret for secrets_ in self.answer_secrets.values() for secret in secrets_]


@dataclass
class Outcome:
    query_id: int
    state: str
    error: str = ""
    duration_ms: int = 0
    accounts: list[dict] = field(default_factory=list)
    retryable: bool = False
    member_ok: bool = False  # for the integration's health


async def _call_one(call: Call, report, *, admitted: bool = False) -> None:
    started = time.monotonic()
    try:
        if not admitted:
            await rate_limiter().wait(call.integration_id, call.rps)
        headers = {"Content-Type": "application/json", **protocol.sign(call.body, keys=call.keys)}
        reply = await protocol.apost(http_session(), call.url, call.body, headers, timeout_s=call.timeout_s)
        outcome = _judge(call, reply)
    except Exception as error:  # one member's failure, whatever it is, must never cost the others their rows
        failure = outbound.call_failure(error, timeout_s=call.timeout_s)
        if failure.unexpected:
            logger.exception("lookup call %s failed unexpectedly", call.query_id)
        state = State.TIMED_OUT if failure.timed_out else State.ERROR
        outcome = Outcome(call.query_id, state, failure.reason, retryable=failure.retryable)
    outcome.duration_ms = int((time.monotonic() - started) * 1000)
    report(outcome)


def _judge(call: Call, reply: protocol.Reply) -> Outcome:
    if reply.status == 202:
        return Outcome(call.query_id, State.RUNNING, AWAITING_CALLBACK, member_ok=True)
    if reply.status >= 500:
        return Outcome(call.query_id, State.ERROR, reply.reason, retryable=True)
    if reply.status != 200:  # the status, never the body: a member must not read what an address answered
        return Outcome(call.query_id, State.ERROR, reply.reason)
    try:
        protocol.verify(reply.headers, reply.body, keys=call.keys, remember=False)
        accounts = protocol.parse_account_lookup_answer(reply.body)
    except protocol.ProtocolError as error:
        return Outcome(call.query_id, State.ERROR, error.reason)
    rows = account_rows(accounts, call.holder_since, id_expected=call.id_expected)
    return Outcome(call.query_id, State.ANSWERED if rows else State.NO_ACCOUNT, accounts=rows, member_ok=True)


def id_check_row(id_last6: str, *, key_id: str) -> dict:
    """What a row keeps for one member call's ID check: the random challenge the member is sent, and a
    keyed hash (portal/core/privacy.py) of the portal's own digest of the holder's characters under it, so
    that the database alone gives nothing to brute-force. Cleared once the row settles."""
    challenge = protocol.id_challenge()
    return {"challenge": challenge, "expected": _id_hash(protocol.id_digest(challenge, id_last6)), "key_id": key_id}


def id_check_row_without_holder(*, key_id: str) -> dict:
    """A carrier's lookup for its subscriber carries no ID characters: the member still gets a random
    challenge (the request looks the same), and with nothing expected every account compares as
    not_available."""
    return {"challenge": protocol.id_challenge(), "expected": "", "key_id": key_id}


def _id_hash(digest: str) -> str:
    return keyed_hash("id-check", digest)


def account_rows(accounts: list[protocol.Account], holder_since: date | None, *, id_expected: str) -> list[dict]:
    """The accounts as the row keeps them: the member's digest is compared here and only the outcome
    (true / false / not_available) is kept."""
    rows = []
    for a in accounts:
        given = _id_hash(a.id_last6_digest) if a.id_last6_digest and id_expected else None
        match = protocol.id_check_matches(given, id_expected)
        rows.append(
            {
                "account_ref": a.account_ref,
                "registered_on": a.registered_on.isoformat(),
                "real_name_match": match,
                "likely_previous": protocol.likely_previous_holders(a.registered_on, holder_since, match),
            }
        )
    return rows


async def _call_all(calls: list[Call], report) -> None:
    http_session()
    admitted = await rate_limiter().admit(calls)
    await asyncio.gather(*(_call_one(call, report, admitted=call.query_id in admitted) for call in calls))


AWAITING_CALLBACK = "awaiting callback (202)"


def call_spec(
    *,
    query_id,
    lookup_id,
    request_id,
    id_check,
    integration_id,
    base_url,
    timeout_ms,
    rps,
    phone_e164,
    holder_since,
    attempt,
) -> dict:
    """Everything a worker needs to call one member for one row (`id_check` as id_check_row made it).
    The signing secret is not in it: workers look it up by key id. It holds the number: a task message
    carries it only sealed (seal_specs)."""
    payload = protocol.account_lookup_request(
        request_id=str(request_id),
        phone_e164=phone_e164,
        holder_since=holder_since,
        id_challenge=id_check.get("challenge", ""),
    )
    return {
        "query_id": query_id,
        "lookup_id": str(lookup_id),
        "integration_id": integration_id,
        "url": base_url.rstrip("/") + protocol.ACCOUNT_LOOKUP_PATH,
        "body": protocol.encode(payload).decode(),
        "key_id": id_check.get("key_id", ""),
        "timeout_s": timeout_ms / 1000,
        "rps": rps,
        "holder_since": payload["holder_since"],
        "attempt": attempt,
        "id_expected": id_check.get("expected", ""),
    }


def seal_specs(specs: list[dict]) -> str:
    """A batch of call specs as one token encrypted with the field keys (portal/core/crypto.py), for a task
    message: Redis and Celery's `argsrepr` see neither the number nor the ID check."""
    return encrypt(json.dumps(specs, separators=(",", ":")))


def unseal_specs(token: str) -> list[dict]:
    return json.loads(decrypt(token))


def run_specs(specs: list[dict]) -> None:
    """A new lookup's first attempt: the rows are already running; call at once."""
    calls, refused = [], []
    for spec in specs:
        secrets_ = key_secrets(spec["integration_id"])
        if spec["key_id"] not in secrets_:
            secrets_ = key_secrets(spec["integration_id"], fresh=True)
        if spec["key_id"] not in secrets_:
            refused.append(spec["query_id"])
            continue
        calls.append(_call(spec, secrets_))
    if refused:
        LookupQuery.objects.filter(pk__in=refused, state=State.RUNNING).update(
            state=State.ERROR, error="signing key revoked during the lookup", finished_at=timezone.now(), id_check={}
        )
        finish_lookups({s["lookup_id"] for s in specs if s["query_id"] in refused})
    _execute(calls)


def _call(spec: dict, answer_secrets: dict[str, list[str]]) -> Call:
    return Call(
        query_id=spec["query_id"],
        lookup_id=spec["lookup_id"],
        integration_id=spec["integration_id"],
        url=spec["url"],
        body=spec["body"].encode(),
        key_id=spec["key_id"],
        answer_secrets=answer_secrets,
        timeout_s=spec["timeout_s"],
        rps=spec["rps"],
        holder_since=date.fromisoformat(spec["holder_since"]) if spec["holder_since"] else None,
        attempt=spec["attempt"],
        id_expected=spec["id_expected"],
    )


def run(query_ids: list[int]) -> None:
    """Retries and the sweeper: claim the rows from the database, then call."""
    _execute(_claim(query_ids))


def _execute(calls: list[Call]) -> None:
    if not calls:
        return
    outcomes: queue.Queue[Outcome] = queue.Queue()
    future = asyncio.run_coroutine_threadsafe(_call_all(calls, outcomes.put), event_loop())
    by_id = {c.query_id: c for c in calls}
    left = Counter(c.lookup_id for c in calls)  # this task's calls still out, per lookup
    healthy: list[Outcome] = []
    pending = len(calls)
    while pending:
        batch = [outcomes.get()]
        while True:  # answers that arrived meanwhile share this write
            try:
                batch.append(outcomes.get_nowait())
            except queue.Empty:
                break
        healthy += _record(batch, by_id)
        pending -= len(batch)
        left.subtract(by_id[o.query_id].lookup_id for o in batch)
        # only a lookup whose calls in this task are all back can have settled
        finish_lookups({by_id[o.query_id].lookup_id for o in batch} - {lookup_id for lookup_id, n in left.items() if n})
    future.result()
    # after the lookups are marked completed, off the path to "completed": member health (the circuit breaker)
    _record_member_health(healthy, by_id)


def circuit_open(*, consecutive_failures: int, last_failure_at, now) -> bool:
    """A member whose calls keep failing is skipped for a while (shown unavailable), not called."""
    return (
        consecutive_failures >= settings.LOOKUP_CIRCUIT_FAILURES
        and last_failure_at is not None
        and now - last_failure_at < timedelta(seconds=settings.LOOKUP_CIRCUIT_SECONDS)
    )


def unavailable_error(consecutive_failures: int) -> str:
    return f"member unavailable: {consecutive_failures} failures in a row"


def _claim(query_ids: list[int]) -> list[Call]:
    """waiting/running -> running, one more attempt, a new deadline; in three statements whatever
    the batch size (the per-row work is Python, not round trips)."""
    now = timezone.now()
    calls, refused = [], []
    with transaction.atomic():
        rows = list(
            LookupQuery.objects.select_for_update(
                skip_locked=connection.features.has_select_for_update_skip_locked, of=("self",)
            )
            .filter(pk__in=query_ids, state__in=[State.WAITING, State.RUNNING])
            .values("pk", "lookup_id", "request_id", "id_check", "attempts", "app__integration__pk")
        )
        if not rows:
            return []
        integrations = {i.pk: i for i in Integration.objects.filter(pk__in={r["app__integration__pk"] for r in rows})}
        lookups = {
            str(pk): (to_e164(phone), since)
            for pk, phone, since in Lookup.objects.filter(pk__in={r["lookup_id"] for r in rows}).values_list(
                "pk", "phone_number", "holder_since"
            )
        }
        longest_timeout_ms, fresh = 0, {}
        for row in rows:
            integration = integrations[row["app__integration__pk"]]
            if integration.pk not in fresh:  # the recovery path reads keys anew: one may have been revoked
                fresh[integration.pk] = key_secrets(integration.pk, fresh=True)
            answer_secrets = fresh[integration.pk]
            key_id = row["id_check"].get("key_id", "")
            if circuit_open(
                consecutive_failures=integration.consecutive_failures,
                last_failure_at=integration.last_failure_at,
                now=now,
            ):
                refused.append((row, State.UNAVAILABLE, unavailable_error(integration.consecutive_failures)))
                continue
            if key_id not in answer_secrets:  # the key was revoked since the lookup started
                refused.append((row, State.ERROR, "signing key revoked during the lookup"))
                continue
            longest_timeout_ms = max(longest_timeout_ms, integration.timeout_ms)
            phone_e164, holder_since = lookups[str(row["lookup_id"])]
            spec = call_spec(
                query_id=row["pk"],
                lookup_id=row["lookup_id"],
                request_id=row["request_id"],
                id_check=row["id_check"],
                integration_id=integration.pk,
                base_url=integration.base_url,
                timeout_ms=integration.timeout_ms,
                rps=integration.max_requests_per_second,
                phone_e164=phone_e164,
                holder_since=holder_since,
                attempt=row["attempts"] + 1,
            )
            calls.append(_call(spec, answer_secrets))
        if calls:
            # one deadline for the batch: the longest member timeout (the sweeper only needs an upper bound)
            LookupQuery.objects.filter(pk__in=[c.query_id for c in calls]).update(
                state=State.RUNNING,
                attempts=F("attempts") + 1,
                started_at=now,
                deadline_at=now
                + timedelta(milliseconds=longest_timeout_ms, seconds=settings.LOOKUP_DEADLINE_GRACE_SECONDS),
            )
        for row, state, error in refused:
            LookupQuery.objects.filter(pk=row["pk"]).update(state=state, error=error, finished_at=now, id_check={})
    finish_lookups({str(row["lookup_id"]) for row, _state, _error in refused})
    return calls


def _record(batch: list[Outcome], calls: dict[int, Call]) -> list[Outcome]:
    """Write a batch of outcomes to their rows; returns those that took (for the members' health)."""

    now = timezone.now()
    values, retry = [], []
    for outcome in batch:
        call = calls[outcome.query_id]
        attempts = call.attempt
        state, error, finished_at, deadline_at = outcome.state, outcome.error[:300], now, None
        if outcome.retryable and attempts < settings.LOOKUP_MAX_ATTEMPTS:
            state, error, finished_at = State.WAITING, f"{outcome.error[:250]}; retrying", None
            deadline_at = now + timedelta(
                seconds=backoff_seconds(attempts, base=1) + call.timeout_s + settings.LOOKUP_DEADLINE_GRACE_SECONDS
            )
            retry.append((outcome.query_id, attempts))
        elif outcome.state == State.RUNNING:  # 202: the member answers later by callback
            finished_at, deadline_at = None, now + timedelta(seconds=settings.LOOKUP_CALLBACK_SECONDS)
        previous = sum(1 for a in outcome.accounts if a["likely_previous"])
        values.append(
            (
                outcome.query_id,
                state,
                error,
                outcome.duration_ms,
                finished_at,
                deadline_at,
                outcome.accounts,
                len(outcome.accounts),
                previous,
            )
        )
    updated = _update_running_rows(values)
    for query_id, attempts in retry:
        if query_id in updated:
            enqueue(
                "portal.tasks.lookup_queries_run",
                [query_id],
                countdown=backoff_seconds(attempts, base=1),
                after_commit=False,
            )
    return [o for o in batch if o.query_id in updated]


def _update_running_rows(values: list[tuple]) -> set[int]:
    """Write many outcomes in one statement; only rows still running take them (a callback or a
    duplicate run that got there first wins)."""
    # one array a column: nine parameters whatever the batch size (a placeholder a value made the
    # driver's query preparation the biggest part of writing a batch)
    columns = [list(column) for column in zip(*values, strict=True)]
    columns[6] = [json.dumps(accounts) for accounts in columns[6]]
    sql = (
        "UPDATE portal_lookupquery AS q SET state = v.state, error = v.error, duration_ms = v.duration_ms, "
        "finished_at = v.finished_at, deadline_at = COALESCE(v.deadline_at, q.deadline_at), "
        # a settled row has compared its ID check: nothing of the holder's characters stays
        "id_check = CASE WHEN v.finished_at IS NULL THEN q.id_check ELSE '{}'::jsonb END, "
        "accounts = v.accounts::jsonb, accounts_total = v.total, accounts_previous = v.previous "
        "FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::integer[], %s::timestamptz[], %s::timestamptz[], "
        "%s::text[], %s::integer[], %s::integer[]) "
        "AS v(id, state, error, duration_ms, finished_at, deadline_at, accounts, total, previous) "
        "WHERE q.id = v.id AND q.state = 'running' RETURNING q.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, columns)
        return {r[0] for r in cursor.fetchall()}


def _record_member_health(outcomes: list[Outcome], calls: dict[int, Call]) -> None:
    integration_health_record(
        succeeded={calls[o.query_id].integration_id for o in outcomes if o.member_ok},
        failed={calls[o.query_id].integration_id: o.error for o in outcomes if not o.member_ok},
        now=timezone.now(),
    )
