from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from portal import selectors, services
from portal.forms import LookupCodeForm, LookupStartForm, UnbindAnswerForm, UnbindTrackCodeForm, UnbindTrackStartForm
from portal.models import Lookup, UnbindRequest
from portal.phone import mask_phone


def home(request):
    return render(request, "portal/home.html")


def before_giving_up(request):
    """The checklist for holders about to cancel a number: the seven kinds of account to unbind."""
    return render(request, "portal/before_giving_up.html")


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


# --- The citizen lookup (一证通查) ----------------------------------------------------------------------

SESSION_LOOKUPS = "lookups"


def client_ip(request) -> str:
    """The client's address for the daily caps. Behind a proxy, CLIENT_IP_HEADER names the header it
    sets (e.g. HTTP_X_REAL_IP); it is trusted only when configured."""
    if settings.CLIENT_IP_HEADER and request.META.get(settings.CLIENT_IP_HEADER):
        return request.META[settings.CLIENT_IP_HEADER].split(",")[0].strip()
    return request.META.get("REMOTE_ADDR", "")


def _refused(form, error):
    form.add_error(None, error.message if isinstance(error, services.Refusal) else error)


def lookup_start(request):
    """Step 1: number, last 6 ID characters and the picture check; then the SMS code is sent."""
    if request.method == "POST" and request.POST.get("edit"):
        form = LookupStartForm(initial={k: request.POST.get(k, "") for k in ("phone_number", "id_last6")})
    elif request.method == "POST":
        form = LookupStartForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.verification_code_send(phone_number=data["phone_number"], client_ip=client_ip(request))
            except services.Refusal as refusal:
                _refused(form, refusal)
            else:
                code_form = LookupCodeForm(initial={"phone_number": data["phone_number"], "id_last6": data["id_last6"]})
                return _code_page(request, code_form, data["phone_number"])
    else:
        form = LookupStartForm()
    return render(request, "portal/lookup_start.html", {"form": form})


def _code_page(request, form, phone_number, status=200):
    context = {"form": form, "masked": mask_phone(phone_number), "resend_seconds": settings.LOOKUP_CODE_RESEND_SECONDS}
    return render(request, "portal/lookup_code.html", context, status=status)


@require_POST
def lookup_verify(request):
    """Step 2: the SMS code; a right code starts the lookup."""
    form = LookupCodeForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            lookup, _token = services.lookup_start(phone_number=data["phone_number"], id_last6=data["id_last6"], code=data["code"])
        except (services.Refusal, ValidationError) as error:
            _refused(form, error)
        else:
            request.session[SESSION_LOOKUPS] = [*request.session.get(SESSION_LOOKUPS, [])[-9:], str(lookup.pk)]
            return redirect("lookup_results", lookup_id=lookup.pk)
    return _code_page(request, form, request.POST.get("phone_number", ""), status=400)


def _own_lookup(request, lookup_id):
    if str(lookup_id) not in request.session.get(SESSION_LOOKUPS, []):
        raise Http404
    return get_object_or_404(Lookup, pk=lookup_id)


@never_cache
def lookup_results(request, lookup_id):
    lookup = _own_lookup(request, lookup_id)
    return render(request, "portal/lookup_results.html", {"result": selectors.lookup_result(lookup), "lookup": lookup})


@never_cache
def lookup_status(request, lookup_id):
    return JsonResponse(selectors.lookup_result(_own_lookup(request, lookup_id)))


@login_required
def staff_lookups(request):
    """Administrators see every lookup's state, with masked numbers only."""
    if not request.user.is_administrator:
        raise Http404
    return render(request, "portal/staff_lookups.html", {"lookups": selectors.lookup_list_recent()})


# --- Unbinding (一键解绑) --------------------------------------------------------------------------------

SESSION_UNBIND_PHONES = "unbind_phones"  # [[phone hash, proven at (Unix seconds)], ...]
UNBIND_PROOF_SECONDS = 3600  # how long a code proves the number for the tracking page


@require_POST
def lookup_unbind(request, lookup_id):
    """From the results page: send one app's accounts (`app`) or every app's (`all`) for unbinding."""
    lookup = _own_lookup(request, lookup_id)
    try:
        app_ids = None if request.POST.get("all") else [int(request.POST.get("app", ""))]
        made = services.unbind_request_create(lookup=lookup, app_ids=app_ids)
    except ValueError:
        messages.error(request, _("Choose an app to unbind."))
    except services.Refusal as refusal:
        messages.error(request, refusal.message)
    else:
        new = sum(1 for r in made if r.created_now)
        if new:
            messages.success(request, ngettext(
                "Sent to %(n)d app for unbinding. It has 5 working days to answer; follow it below or on the unbinding page.",
                "Sent to %(n)d apps for unbinding. They have 5 working days to answer; follow them below or on the unbinding page.",
                new) % {"n": new})
        else:
            messages.info(request, _("This was already sent for unbinding; follow it below."))
    return redirect(reverse("lookup_results", args=[lookup.pk]) + "#unbinding")


def _proven_phone_hashes(request) -> list[str]:
    now = timezone.now().timestamp()
    return [h for h, at in request.session.get(SESSION_UNBIND_PHONES, []) if now - at < UNBIND_PROOF_SECONDS]


def unbind_track(request):
    """The holder follows their unbind requests: those of this browser's lookups, or of a number
    proven with an SMS code."""
    form = UnbindTrackStartForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        phone_number = form.cleaned_data["phone_number"]
        try:
            services.verification_code_send(phone_number=phone_number, client_ip=client_ip(request), purpose="unbind")
        except services.Refusal as refusal:
            _refused(form, refusal)
        else:
            return _unbind_code_page(request, UnbindTrackCodeForm(initial={"phone_number": phone_number}), phone_number)
    rows = selectors.unbind_requests_for_holder(
        phone_hashes=_proven_phone_hashes(request), lookup_ids=request.session.get(SESSION_LOOKUPS, [])
    )
    shown = [selectors.unbind_view(r) | {"phone_number": r.lookup.masked_phone_number, "requested": r.created_at, "deadline": r.deadline_at}
             for r in rows]
    context = {"form": form, "requests": shown,
               "proven": bool(_proven_phone_hashes(request))}
    return render(request, "portal/unbind_track.html", context, status=400 if form.errors else 200)


def _unbind_code_page(request, form, phone_number, status=200):
    context = {"form": form, "masked": mask_phone(phone_number), "resend_seconds": settings.LOOKUP_CODE_RESEND_SECONDS}
    return render(request, "portal/unbind_code.html", context, status=status)


@require_POST
def unbind_verify(request):
    form = UnbindTrackCodeForm(request.POST)
    if form.is_valid():
        try:
            phone_hash = services.holder_verify(phone_number=form.cleaned_data["phone_number"], code=form.cleaned_data["code"],
                                                purpose="unbind")
        except (services.Refusal, ValidationError) as error:
            _refused(form, error)
        else:
            proven = [[h, at] for h, at in request.session.get(SESSION_UNBIND_PHONES, []) if h != phone_hash]
            request.session[SESSION_UNBIND_PHONES] = [*proven[-4:], [phone_hash, timezone.now().timestamp()]]
            return redirect("unbind_track")
    return _unbind_code_page(request, form, request.POST.get("phone_number", ""), status=400)


@login_required
def staff_unbind_requests(request):
    """Platform staff: their organisation's unbind requests, soonest deadline first, answered here."""
    state = request.GET.get("state", "open")
    if state not in selectors.UNBIND_FILTERS:
        state = "open"
    rows = selectors.unbind_request_rows(user=request.user, state=state)
    return render(request, "portal/staff_unbind_requests.html",
                  {"rows": rows, "state": state, "filters": selectors.unbind_filter_choices()})


@login_required
def staff_unbind_request(request, public_id):
    unbind_request = get_object_or_404(selectors.unbind_request_list(user=request.user, state="all"), public_id=public_id)
    form = UnbindAnswerForm(request.POST or None)
    # The member's own staff answer; administrators see every member's requests but do not answer for them.
    can_answer = request.user.is_member_staff and unbind_request.is_open
    if request.method == "POST" and can_answer and form.is_valid():
        try:
            services.unbind_answer(unbind_request=unbind_request, result=form.cleaned_data["result"],
                                   reason=form.cleaned_data["reason"], via="console", by=request.user)
        except services.AnswerConflict:
            messages.error(request, _("This request was already answered."))
        else:
            messages.success(request, _("Answer recorded; the holder is told by SMS."))
        return redirect("staff_unbind_requests")
    row = selectors.unbind_request_rows(user=request.user, state="all", public_id=public_id)[0]
    return render(request, "portal/staff_unbind_request.html", {"row": row, "form": form, "can_answer": can_answer},
                  status=400 if form.errors else 200)
