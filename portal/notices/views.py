from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.notices import replay, selectors, services
from portal.notices.forms import NoticeSubscriptionForm
from portal.notices.models import NoticeDelivery, NoticeSubscription
from portal.recycling.models import NumberEvent
from registry.scoping import scope_for_user
from registry.selectors import member_app_list_for_user


@login_required
def staff_app_notices(request, pk: int):
    """An app's notice subscription (its staff change it; a new secret is shown once), its totals and
    its recent notices, parked first."""
    app = get_object_or_404(member_app_list_for_user(user=request.user), pk=pk)
    subscription = getattr(app, "notice_subscription", None)
    secret = None
    if request.method == "POST":
        if not request.user.is_member_staff:
            raise Http404
        if request.POST.get("new_secret") and subscription is not None:
            secret = services.notice_subscription_new_secret(subscription=subscription)
            form = NoticeSubscriptionForm(initial=_subscription_initial(subscription))
        else:
            form = NoticeSubscriptionForm(request.POST)
            if form.is_valid():
                try:
                    subscription, secret = services.notice_subscription_save(app=app, **form.cleaned_data)
                except ValidationError as error:
                    form.add_error(None, error)
                else:
                    if secret is None:
                        messages.success(request, _("Subscription saved."))
                        return redirect("staff_app_notices", pk=app.pk)
    else:
        form = NoticeSubscriptionForm(initial=_subscription_initial(subscription))
    rows = scope_for_user(NoticeDelivery.objects.filter(subscription__app=app), request.user)
    context = {
        "app": app,
        "subscription": subscription,
        "form": form,
        "secret": secret,
        "totals": selectors.notice_totals(deliveries=rows),
        "parked": selectors.notice_deliveries_for_user(user=request.user, app=app, state=NoticeDelivery.State.PARKED),
        "deliveries": selectors.notice_deliveries_for_user(user=request.user, app=app, limit=50),
    }
    return render(request, "portal/staff_app_notices.html", context)


def _subscription_initial(subscription) -> dict:
    if subscription is None:
        return {"event_types": NumberEvent.Type.values, "enabled": True}
    return {"webhook_url": subscription.webhook_url, "event_types": subscription.types, "enabled": subscription.enabled}


@login_required
def staff_notices(request):
    """Administrators: every member's notices (parked first) and the totals; member staff: theirs."""
    rows = scope_for_user(NoticeDelivery.objects.all(), request.user)
    if not (request.user.is_administrator or request.user.is_member_staff):
        raise Http404
    context = {
        "totals": selectors.notice_totals(deliveries=rows),
        "parked": selectors.notice_deliveries_for_user(user=request.user, state=NoticeDelivery.State.PARKED),
        "deliveries": selectors.notice_deliveries_for_user(user=request.user, limit=100),
    }
    return render(request, "portal/staff_notices.html", context)


def _own_notice(request, notice_id):
    return get_object_or_404(
        scope_for_user(NoticeDelivery.objects.select_related("subscription__app"), request.user), pk=notice_id
    )


@login_required
def staff_notice_detail(request, notice_id):
    delivery = _own_notice(request, notice_id)
    context = {
        "delivery": delivery,
        "attempts": delivery.attempt_log.all(),
        "replay_refusal": replay.replay_refusal(delivery),
    }
    return render(request, "portal/staff_notice_detail.html", context)


@login_required
@require_POST
def staff_notice_resend(request, notice_id):
    delivery = _own_notice(request, notice_id)
    try:
        services.notice_delivery_resend(delivery=delivery)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The notice is being sent again."))
    return redirect("staff_notice_detail", notice_id=delivery.pk)


@login_required
@require_POST
def staff_notice_replay(request, notice_id):
    rows = scope_for_user(NoticeDelivery.objects.select_related("subscription"), request.user)
    delivery = get_object_or_404(rows, pk=notice_id)
    try:
        replay.replay_request(delivery=delivery, by=f"staff {request.user.email}")
    except replay.ReplayRefused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, _("The notice is being sent again, with the same id; the attempt appears below."))
    return redirect("staff_notice_detail", notice_id=delivery.pk)


@login_required
@require_POST
def staff_notice_endpoint_enable(request, pk: int):
    if not request.user.is_member_staff:  # the member decides when its webhook is fixed
        raise Http404
    app = get_object_or_404(member_app_list_for_user(user=request.user), pk=pk)
    subscription = get_object_or_404(scope_for_user(NoticeSubscription.objects.all(), request.user), app=app)
    count = replay.endpoint_enable(subscription=subscription)
    text = _("The webhook is enabled again; %(count)d notice(s) of the last days are being sent again.")
    messages.success(request, text % {"count": count})
    return redirect("staff_app_notices", pk=app.pk)
