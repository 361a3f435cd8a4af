from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from portal.sms import selectors


@login_required
def sms_outbox(request):
    if not request.user.is_administrator:
        raise Http404
    return render(
        request,
        "portal/sms_outbox.html",
        {"messages_out": selectors.sms_outbox(), "show_text": selectors.sms_outbox_shows_text()},
    )
