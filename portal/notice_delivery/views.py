"""The notice console's buttons: replay a notice, re-enable a disabled webhook. Both only for rows the
user's scope shows (registry/scoping.py): another organisation's notice or app is a 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.models import NoticeDelivery, NoticeSubscription
from portal.notice_delivery import services
from registry.scoping import scope_for_user
from registry.selectors import member_app_list_for_user


@login_required
@require_POST
def staff_notice_replay(request, notice_id):
    rows = scope_for_user(NoticeDelivery.objects.select_related("subscription"), request.user)
    delivery = get_object_or_404(rows, pk=notice_id)
    try:
        services.replay_request(delivery=delivery, by=f"staff {request.user.email}")
    except services.ReplayRefused as refusal:
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
    count = services.endpoint_enable(subscription=subscription)
    text = _("The webhook is enabled again; %(count)d notice(s) of the last days are being sent again.")
    messages.success(request, text % {"count": count})
    return redirect("staff_app_notices", pk=app.pk)
