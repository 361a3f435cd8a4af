from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from portal import selectors


def home(request):
    return render(request, "portal/home.html")


@never_cache
def healthz(request):
    report = selectors.health_report()
    down = [part for part in ("database", "broker", "worker") if report[part] != "ok"]
    report["status"] = "ok" if not down else "down: " + ", ".join(down)
    return JsonResponse(report, status=503 if down else 200)


@login_required
def sms_outbox(request):
    if not request.user.is_administrator:
        raise Http404
    return render(
        request,
        "portal/sms_outbox.html",
        {"messages_out": selectors.sms_outbox(), "show_text": selectors.sms_outbox_shows_text()},
    )
