import secrets

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.core import backoff
from portal.core.crypto import encrypt
from portal.notices import replay
from portal.notices.delivery import dispatch
from portal.notices.models import NoticeDelivery, NoticeSubscription
from portal.outbound import policy as outbound_policy
from portal.recycling.models import NumberEvent
from portal.recycling.selectors import newest_number_event_id
from registry import protocol


def _clean_subscription(webhook_url: str, event_types) -> tuple[str, str]:
    webhook_url = (webhook_url or "").strip()
    try:
        URLValidator(schemes=["http", "https"])(webhook_url)
    except ValidationError:
        raise ValidationError(
            {"webhook_url": _("Enter the full web address of your webhook, starting with https://.")}
        ) from None
    try:
        outbound_policy.validate_url(webhook_url)  # the portal will call it: checked again at every connection
    except ValidationError as error:
        raise ValidationError({"webhook_url": error.messages}) from None
    types = sorted(set(event_types or []))
    if not types or not set(types) <= set(NumberEvent.Type.values):
        raise ValidationError(
            {"event_types": _("Choose at least one of: cancelled, re-assigned, ported out, ported in.")}
        )
    return webhook_url, " ".join(types)


@transaction.atomic
def notice_subscription_save(
    *, app, webhook_url: str, event_types, enabled: bool = True, secret: str = ""
) -> tuple[NoticeSubscription, str | None]:
    """Subscribe an app to recycled-number notices, or change its subscription. A new subscription
    gets its signing secret, returned here once (only its encryption is kept) and is told of events
    from now on; history is in the pull feed. `secret` is given only for reproducible demo data."""
    webhook_url, types = _clean_subscription(webhook_url, event_types)
    subscription = NoticeSubscription.objects.select_for_update().filter(app=app).first()
    if subscription is not None:
        if enabled and not subscription.enabled:
            subscription.notified_up_to = newest_number_event_id()  # resumes from now, not with a flood
        subscription.webhook_url, subscription.event_types, subscription.enabled = webhook_url, types, enabled
        subscription.save()
        if enabled and subscription.disabled_at is not None:  # saving it is the member saying it is fixed
            replay.endpoint_enable(subscription=subscription)
            subscription.refresh_from_db()
        return subscription, None
    secret = secret or protocol.new_secret()  # whsec_… (Standard Webhooks)
    subscription = NoticeSubscription.objects.create(
        app=app,
        webhook_url=webhook_url,
        event_types=types,
        enabled=enabled,
        key_id="wh_" + secrets.token_hex(8),
        secret_encrypted=encrypt(secret),
        notified_up_to=newest_number_event_id(),
    )
    return subscription, secret


def notice_subscription_new_secret(*, subscription: NoticeSubscription) -> str:
    """Replace the signing secret (and key id, so the member can tell them apart); returned once."""
    secret = protocol.new_secret()
    subscription.key_id = "wh_" + secrets.token_hex(8)
    subscription.secret_encrypted = encrypt(secret)
    subscription.save(update_fields=["key_id", "secret_encrypted", "updated_at"])
    return secret


def notice_delivery_resend(*, delivery: NoticeDelivery) -> NoticeDelivery:
    """Give a parked notice a new round of tries, starting now."""
    with transaction.atomic():
        delivery = NoticeDelivery.objects.select_for_update().get(pk=delivery.pk)
        if delivery.state != NoticeDelivery.State.PARKED:
            raise ValidationError(_("Only a parked notice can be re-sent."))
        if delivery.subscription.disabled_at is not None:
            raise ValidationError(_("The webhook is disabled; re-enable it first, then replay."))
        delivery.state = NoticeDelivery.State.PENDING
        delivery.max_attempts = delivery.attempts + backoff.notices().attempts
        delivery.next_attempt_at = timezone.now()
        delivery.parked_at = None
        delivery.save(update_fields=["state", "max_attempts", "next_attempt_at", "parked_at"])
        transaction.on_commit(lambda: dispatch([[str(delivery.pk)]]))
    return delivery


def notice_report(*, delivery: NoticeDelivery, bindings_removed: int) -> NoticeDelivery:
    """A member says how many bindings it removed for a notice; the latest report stands."""
    delivery.bindings_removed = bindings_removed
    delivery.reported_at = timezone.now()
    delivery.save(update_fields=["bindings_removed", "reported_at"])
    return delivery
