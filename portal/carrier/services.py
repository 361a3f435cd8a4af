"""Writes of the carrier front door: a carrier, acting for its subscriber, starts a lookup, renews a
number or reads its history. Every action passes the same guard rails, in this order: the attestation
is checked, the number must be in the carrier's own segments (else NotCarriersNumber: a 404, so other
carriers' numbers are not told apart from unknown ones), the carrier's rate limit, then the action is
recorded (CarrierAction) and the holder told by SMS.

A lookup is an ordinary Lookup (origin carrier_lookup) through the usual fan-out; a renewal is one
UnbindRequest per app with the unbinding capability, under a Lookup of origin carrier_renewal that
asks no member and only holds the number for them (an empty `accounts` list in the push means every
binding made before `holder_since`)."""

import logging
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from portal.carrier import selectors
from portal.carrier.models import CarrierAction
from portal.core import ratelimit
from portal.core import refusals as core_refusals
from portal.core.enqueue import enqueue_each
from portal.core.phone import normalize_phone
from portal.core.privacy import keyed_hash, token_hash
from portal.core.workdays import add_working_days
from portal.lookup.models import Lookup
from portal.lookup.services import _one_lookup_per_day, lookup_create
from portal.outbound import clients as outbound
from portal.outbound import policy as outbound_policy
from portal.recycling import selectors as portal_selectors
from portal.sms.models import SmsMessage
from portal.sms.services import sms_send
from portal.unbinding import services as portal_services
from portal.unbinding.models import UnbindRequest
from registry import protocol
from registry.carriers import carrier_for_number
from registry.services import integration_secrets

logger = logging.getLogger(__name__)

Refusal = core_refusals.Refusal
REFERENCE = re.compile(r"[A-Za-z0-9_.:@/#-]{1,64}")
FUTURE_SKEW = timedelta(seconds=60)  # the carrier's clock may run a little ahead of ours


def invalid(errors: dict, code: str) -> ValidationError:
    """Field errors that all carry `code` (what the API answers as its refusal code)."""
    return ValidationError({field: ValidationError(message, code=code) for field, message in errors.items()})


class NotCarriersNumber(Exception):
    """The number is not in the acting carrier's segments (or nobody's): answered 404."""


@dataclass(frozen=True)
class Attestation:
    """How the carrier verified the subscriber in front of it: its channel, its own reference for the
    staff member or the app session (never a person's name or ID), and when."""

    channel: str
    reference: str
    verified_at: datetime


def attestation_parse(raw) -> Attestation:
    """Check an attestation strictly: {channel: app|counter, reference: 1-64 of A-Z a-z 0-9 _ . : @ / # -,
    verified_at: ISO 8601 with offset, not in the future, at most CARRIER_ATTESTATION_MAX_AGE_SECONDS old}.
    Raises ValidationError with a message per field."""
    if not isinstance(raw, dict) or set(raw) != {"channel", "reference", "verified_at"}:
        raise invalid(
            {"attestation": _("attestation must be an object with exactly channel, reference and verified_at")},
            "invalid_attestation",
        )
    errors = {}
    channel, reference, verified = raw["channel"], raw["reference"], raw["verified_at"]
    if channel not in CarrierAction.Channel.values:
        errors["channel"] = _("channel must be app or counter")
    if not isinstance(reference, str) or not REFERENCE.fullmatch(reference):
        errors["reference"] = _(
            "reference must be 1 to 64 of A-Z a-z 0-9 _ . : @ / # - (the carrier's own reference "
            "for the staff member or the app session)"
        )
    verified_at = None
    if isinstance(verified, str) and len(verified) <= 40:
        try:
            verified_at = parse_datetime(verified)
        except ValueError:
            verified_at = None
    now = timezone.now()
    max_age = settings.CARRIER_ATTESTATION_MAX_AGE_SECONDS
    if verified_at is None or verified_at.tzinfo is None:
        errors["verified_at"] = _("verified_at must be an ISO 8601 time with its offset")
    elif verified_at > now + FUTURE_SKEW:
        errors["verified_at"] = _("verified_at is in the future")
    elif verified_at < now - timedelta(seconds=max_age):
        errors["verified_at"] = _(
            "the subscriber was verified more than %(minutes)d minutes ago: verify them again"
        ) % {"minutes": max_age // 60}
    if errors:
        raise invalid(errors, "invalid_attestation")
    return Attestation(channel, reference, verified_at)


def callback_url_clean(raw) -> str:
    """An optional callback URL: http(s), at most 500 characters, and an address the outbound policy
    allows (checked again at every connection)."""
    if raw in (None, ""):
        return ""
    if not isinstance(raw, str) or len(raw) > 500 or not raw.startswith(("https://", "http://")):
        raise invalid(
            {"callback_url": _("callback_url must be an https:// address of at most 500 characters")},
            "invalid_callback_url",
        )
    try:
        outbound_policy.validate_url(raw)
    except ValidationError as error:
        raise invalid({"callback_url": " ".join(error.messages)}, "invalid_callback_url") from None
    return raw


@dataclass(frozen=True)
class Actor:
    """Who acts: the carrier, and its system's key (API) or its staff member (console)."""

    carrier: object
    via: str
    key_id: str = ""
    integration: object = None
    staff_user: object = None


def carriers_number(carrier, raw_phone: str) -> str:
    """The number, normalised, if the carrier issued it (the longest-prefix rule of
    portal.selectors.carrier_for_number); else NotCarriersNumber."""
    phone_number = normalize_phone(raw_phone if isinstance(raw_phone, str) else "")  # ValidationError: 400
    owner = carrier_for_number(phone_number)
    if owner is None or owner.pk != carrier.pk:
        raise NotCarriersNumber()
    return phone_number


def _rate_limit(carrier) -> None:
    wait = ratelimit.exceeded("carrier", carrier.pk, limit=settings.CARRIER_ACTIONS_PER_MINUTE, seconds=60)
    if wait is not None:
        raise Refusal(
            _("Too many actions by this carrier this minute. Try again after %(seconds)d seconds.")
            % {"seconds": math.ceil(wait)},
            code="rate_limited",
            retry_at=timezone.now() + timedelta(seconds=wait),
        )


def _guard(actor: Actor, raw_phone: str) -> str:
    phone_number = carriers_number(actor.carrier, raw_phone)  # before the limit: another's number counts nothing
    _rate_limit(actor.carrier)
    return phone_number


def _record(actor: Actor, attestation: Attestation, *, kind: str, phone_number: str, **fields) -> CarrierAction:
    return CarrierAction.objects.create(
        carrier=actor.carrier,
        kind=kind,
        channel=attestation.channel,
        reference=attestation.reference,
        verified_at=attestation.verified_at,
        via=actor.via,
        key_id=actor.key_id,
        integration=actor.integration,
        staff_user=actor.staff_user,
        phone_hash=keyed_hash("phone", phone_number),
        phone_number=phone_number,
        **fields,
    )


def _channel_words(channel: str) -> str:
    return "营业厅" if channel == CarrierAction.Channel.COUNTER else "手机营业厅 App"


def _tell_holder(action: CarrierAction, what: str) -> None:
    """The holder hears of every lookup and renewal a carrier starts on their number, so misuse shows."""
    when = timezone.localtime(action.created_at).strftime("%m-%d %H:%M")
    text = (
        f"【码号服务】{action.carrier.legal_name}于 {when} 在{_channel_words(action.channel)}为您的号码{what}。"
        "如非您本人办理，请联系运营商，或在门户“解绑进度”页查看。"
    )
    sms_send(phone_number=action.phone_number, text=text, purpose=SmsMessage.Purpose.OTHER)
    action.holder_sms_sent_at = timezone.now()
    action.save(update_fields=["holder_sms_sent_at"])


def carrier_lookup_start(
    *, actor: Actor, phone_number: str, attestation: Attestation, callback_url: str = ""
) -> CarrierAction:
    """一号通查 for the carrier's subscriber: an ordinary lookup (one a day per number, as the holder's
    own), its answer counts only. The carrier verified the subscriber, so there is no SMS code and no
    ID characters: accounts registered before the holder got the number are the previous holder's."""
    phone_number = _guard(actor, phone_number)
    _one_lookup_per_day(keyed_hash("phone", phone_number))  # the holder's own rule, shared
    with transaction.atomic():
        lookup, _token = lookup_create(
            phone_number=phone_number, id_last6=None, identity="carrier", origin=Lookup.Origin.CARRIER_LOOKUP
        )
        action = _record(
            actor,
            attestation,
            kind=CarrierAction.Kind.LOOKUP,
            phone_number=phone_number,
            lookup=lookup,
            holder_since=lookup.holder_since,
            apps_total=lookup.apps_total,
            callback_url=callback_url,
        )
        _tell_holder(action, "发起了账号查询（一号通查），结果将另行短信告知")
        if lookup.state == Lookup.State.COMPLETED:  # nobody to ask
            transaction.on_commit(lambda: carrier_action_settle(action_id=action.pk))
    return action


def renewal_holder_since(phone_number: str, raw) -> object:
    """When the holder got the number: the carrier's word (not in the future), else its latest reported
    re-assignment. A renewal needs it: only bindings made before it are removed."""
    if raw not in (None, ""):
        try:
            given = datetime.strptime(raw, "%Y-%m-%d").date() if isinstance(raw, str) else None
        except ValueError:
            given = None
        if given is None or given > timezone.localdate():
            raise invalid(
                {"holder_since": _("holder_since must be a date, YYYY-MM-DD, not in the future")},
                "invalid_holder_since",
            )
        return given
    since = portal_selectors.holder_since(phone_number)
    if since is None:
        raise Refusal(
            _(
                "No re-assignment of this number was reported, so it is not known when the holder got it: "
                "give holder_since."
            ),
            code="holder_since_unknown",
        )
    return since


def carrier_renewal_start(
    *, actor: Actor, phone_number: str, attestation: Attestation, holder_since=None, callback_url: str = ""
) -> tuple[CarrierAction, bool]:
    """主动焕新: every app with the unbinding capability is asked to remove the bindings made before the
    holder got the number, pushed or pulled as unbinding is, due in UNBIND_WORKING_DAYS working days.
    A number's renewal still running is returned as it is (created=False)."""
    phone_number = _guard(actor, phone_number)
    since = renewal_holder_since(phone_number, holder_since)
    running = selectors.renewal_running(carrier=actor.carrier, phone_number=phone_number)
    if running is not None:
        return running, False
    apps = selectors.renewal_apps()
    if not apps:
        raise Refusal(_("No member app takes unbind requests, so there is nothing to renew."), code="nothing_to_unbind")
    now = timezone.now()
    deadline = add_working_days(now, settings.UNBIND_WORKING_DAYS)
    with transaction.atomic():
        lookup = Lookup.objects.create(
            origin=Lookup.Origin.CARRIER_RENEWAL,
            phone_hash=keyed_hash("phone", phone_number),
            phone_number=phone_number,
            holder_since=since,
            identity_check="carrier",
            access_token_hash=token_hash(secrets.token_urlsafe(32)),
            state=Lookup.State.COMPLETED,
            created_at=now,
            completed_at=now,
        )
        requests = UnbindRequest.objects.bulk_create(
            [
                UnbindRequest(
                    lookup=lookup,
                    app=app,
                    delivery=delivery,
                    accounts=[],
                    accounts_count=0,
                    created_at=now,
                    deadline_at=deadline,
                    next_attempt_at=now if delivery == UnbindRequest.Delivery.PUSH else None,
                )
                for app, delivery in ((app, portal_services._unbind_delivery_for(app)) for app in apps)
            ]
        )
        action = _record(
            actor,
            attestation,
            kind=CarrierAction.Kind.RENEWAL,
            phone_number=phone_number,
            lookup=lookup,
            holder_since=since,
            deadline_at=deadline,
            apps_total=len(requests),
            callback_url=callback_url,
        )
        _tell_holder(
            action,
            f"申请了号码焕新：{len(requests)} 个应用将解除前机主的绑定，{timezone.localtime(deadline):%m-%d}前完成",
        )
        push = [r.pk for r in requests if r.delivery == UnbindRequest.Delivery.PUSH]
        transaction.on_commit(lambda: portal_services.unbind_dispatch(request_ids=push))
    return action, True


def carrier_history_read(*, actor: Actor, phone_number: str, attestation: Attestation) -> tuple[CarrierAction, dict]:
    """The number's recycling history, for telling a buyer at the point of sale that it is second-hand;
    recorded like every carrier action (the holder is not told: nothing is done to the number)."""
    phone_number = _guard(actor, phone_number)
    history = selectors.number_history(phone_number=phone_number)
    action = _record(
        actor,
        attestation,
        kind=CarrierAction.Kind.HISTORY,
        phone_number=phone_number,
        state=CarrierAction.State.COMPLETED,
        completed_at=timezone.now(),
        holder_since=history["holder_since"],
    )
    return action, history


# --- settling, callbacks, purge --------------------------------------------------------------------------


def carrier_action_settle(*, action_id: int) -> CarrierAction | None:
    """Mark a carrier's lookup completed once its Lookup is, and a renewal once every app answered (done
    or refused): the counts stay, the holder hears how a renewal ended, the callback is due. Idempotent."""
    with transaction.atomic():
        action = (
            CarrierAction.objects.select_for_update(of=("self",))
            .select_related("lookup", "carrier")
            .filter(pk=action_id)
            .first()
        )
        if action is None or action.state != CarrierAction.State.RUNNING or action.lookup is None:
            return action
        if action.kind == CarrierAction.Kind.LOOKUP:
            if action.lookup.state != Lookup.State.COMPLETED:
                return action
            action.completed_at = action.lookup.completed_at or timezone.now()
        else:
            counts = action.lookup.unbind_requests.aggregate(
                open=Count("pk", filter=Q(state__in=UnbindRequest.OPEN)),
                done=Count("pk", filter=Q(state="done")),
                refused=Count("pk", filter=Q(state="refused")),
                last=Max("answered_at"),
            )
            if counts["open"]:
                return action
            action.apps_done, action.apps_refused = counts["done"], counts["refused"]
            action.completed_at = counts["last"] or timezone.now()
            if action.phone_number:
                text = (
                    f"【码号服务】号码焕新已完成：{action.apps_done} 个应用已解除前机主与您号码的绑定"
                    + (
                        f"，{action.apps_refused} 个未解除（原因见门户“解绑进度”页，可投诉）"
                        if action.apps_refused
                        else ""
                    )
                    + "。"
                )
                sms_send(phone_number=action.phone_number, text=text, purpose=SmsMessage.Purpose.UNBIND)
        action.state = CarrierAction.State.COMPLETED
        if action.callback_url:
            action.callback_state, action.callback_next_at = CarrierAction.Callback.PENDING, timezone.now()
            transaction.on_commit(lambda: carrier_callback_dispatch(action_ids=[action.pk]))
        action.save()
    return action


def carrier_callback_dispatch(*, action_ids: list[int]) -> None:
    enqueue_each("portal.carrier_callback_deliver", [(pk,) for pk in action_ids], after_commit=False)


CALLBACK_LEASE_SECONDS = 60


def carrier_callback_deliver(*, action_id: int) -> str:
    """POST the finished action to the carrier's callback URL, signed with its integration's keys
    (Standard Webhooks; the webhook-id is the same on every retry, so the carrier drops repeats). Any
    2xx takes it; otherwise it is retried with backoff, CARRIER_CALLBACK_MAX_ATTEMPTS times in all."""
    now = timezone.now()
    claimed = CarrierAction.objects.filter(
        pk=action_id,
        callback_state=CarrierAction.Callback.PENDING,
        callback_next_at__lte=now + timedelta(seconds=2),
    ).update(callback_next_at=now + timedelta(seconds=CALLBACK_LEASE_SECONDS))
    if not claimed:
        return "skipped"
    action = CarrierAction.objects.select_related("integration", "lookup", "carrier").get(pk=action_id)
    action.callback_attempts += 1
    payload = {"type": f"carrier.{action.kind}.completed", "data": selectors.action_view(action)}
    error = ""
    try:
        keys = integration_secrets(action.integration) if action.integration else []
        if not keys:
            raise protocol.ProtocolError("the integration has no valid key")
        reply = protocol.post_signed(
            action.callback_url, payload, keys=keys, timeout_s=10, msg_id="cb_" + action.public_id.hex
        )
        if not 200 <= reply.status < 300:
            error = reply.reason
    except (httpx.HTTPError, protocol.ProtocolError) as failure:
        error = getattr(failure, "reason", "") or outbound.failure_reason(failure)
    action.callback_error = error[:300]
    if not error or action.callback_attempts >= settings.CARRIER_CALLBACK_MAX_ATTEMPTS:
        action.callback_state = CarrierAction.Callback.FAILED if error else CarrierAction.Callback.DELIVERED
        action.callback_next_at = None
    else:
        delay = settings.UNBIND_RETRY_BASE_SECONDS * 2 ** (action.callback_attempts - 1)
        action.callback_next_at = timezone.now() + timedelta(seconds=delay)
    action.save(update_fields=["callback_state", "callback_next_at", "callback_error", "callback_attempts"])
    if error:
        logger.warning("carrier callback %s failed (attempt %d): %s", action.public_id, action.callback_attempts, error)
    return action.callback_state


def carrier_sweep() -> int:
    """Settle running lookups and renewals whose work is done (a lost nudge), and re-send due callbacks."""
    settled = 0
    for action_id in selectors.actions_ready_to_settle()[:1000]:
        carrier_action_settle(action_id=action_id)
        settled += 1
    due = list(
        CarrierAction.objects.filter(
            callback_state=CarrierAction.Callback.PENDING, callback_next_at__lte=timezone.now()
        ).values_list("pk", flat=True)[:1000]
    )
    if due:
        carrier_callback_dispatch(action_ids=due)
    return settled + len(due)


def carrier_actions_purge() -> int:
    """After the lookups' retention, the numbers go; who acted, when, how and the counts stay."""
    cutoff = timezone.now() - timedelta(days=settings.LOOKUP_RETENTION_DAYS)
    return (
        CarrierAction.objects.filter(created_at__lt=cutoff, purged_at__isnull=True)
        .exclude(state=CarrierAction.State.RUNNING)
        .update(phone_number="", phone_hash="", purged_at=timezone.now())
    )
