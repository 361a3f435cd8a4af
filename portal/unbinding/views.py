from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

# the holder's tracking page also shows what their carrier started for them (the one import upwards:
# pyproject.toml's import contracts list it)
from portal.carrier import selectors as carrier_selectors
from portal.core.refusals import Refusal
from portal.unbinding import selectors, services
from portal.unbinding.forms import UnbindAnswerForm
from portal.verification.forms import PhoneCaptchaForm, PhoneCodeForm
from portal.verification.models import VerificationCode
from portal.verification.services import holder_verify
from portal.verification.views import SESSION_LOOKUPS, code_page, refused, send_code

SESSION_UNBIND_PHONES = "unbind_phones"  # [[phone hash, proven at (Unix seconds)], ...]


UNBIND_PROOF_SECONDS = 3600  # how long a code proves the number for the tracking page


def _proven_phone_hashes(request) -> list[str]:
    now = timezone.now().timestamp()
    return [h for h, at in request.session.get(SESSION_UNBIND_PHONES, []) if now - at < UNBIND_PROOF_SECONDS]


def unbind_track(request):
    """The holder follows their unbind requests: those of this browser's lookups, or of a number
    proven with an SMS code."""
    form = PhoneCaptchaForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        phone_number = form.cleaned_data["phone_number"]
        page = send_code(
            request,
            form,
            phone_number=phone_number,
            purpose=VerificationCode.Purpose.UNBIND,
            template=UNBIND_CODE_TEMPLATE,
            code_form=PhoneCodeForm(initial={"phone_number": phone_number}),
        )
        if page:
            return page
    proven = _proven_phone_hashes(request)
    rows = selectors.unbind_requests_for_holder(
        phone_hashes=proven, lookup_ids=request.session.get(SESSION_LOOKUPS, [])
    )
    shown = [
        selectors.unbind_view(r)
        | {"phone_number": r.lookup.masked_phone_number, "requested": r.created_at, "deadline": r.deadline_at}
        for r in rows
    ]
    context = {
        "form": form,
        "requests": shown,
        "proven": bool(proven),
        "carrier_actions": carrier_selectors.actions_for_holder(phone_hashes=proven),
    }
    return render(request, "portal/unbind_track.html", context, status=400 if form.errors else 200)


UNBIND_CODE_TEMPLATE = "portal/unbind_code.html"


@require_POST
def unbind_verify(request):
    form = PhoneCodeForm(request.POST)
    if form.is_valid():
        try:
            phone_hash = holder_verify(
                phone_number=form.cleaned_data["phone_number"], code=form.cleaned_data["code"], purpose="unbind"
            )
        except (Refusal, ValidationError) as error:
            refused(form, error)
        else:
            proven = [[h, at] for h, at in request.session.get(SESSION_UNBIND_PHONES, []) if h != phone_hash]
            request.session[SESSION_UNBIND_PHONES] = [*proven[-4:], [phone_hash, timezone.now().timestamp()]]
            return redirect("unbind_track")
    return code_page(request, UNBIND_CODE_TEMPLATE, form, request.POST.get("phone_number", ""), status=400)


@login_required
def staff_unbind_requests(request):
    """Platform staff: their organisation's unbind requests, soonest deadline first, answered here."""
    state = request.GET.get("state", "open")
    if state not in selectors.UNBIND_FILTERS:
        state = "open"
    rows = selectors.unbind_request_rows(user=request.user, state=state)
    return render(
        request,
        "portal/staff_unbind_requests.html",
        {"rows": rows, "state": state, "filters": selectors.unbind_filter_choices()},
    )


@login_required
def staff_unbind_request(request, public_id):
    rows = selectors.unbind_request_rows(user=request.user, state="all", public_id=public_id)
    if not rows:
        raise Http404
    unbind_request = row = rows[0]  # the request, with its working days left for the page
    form = UnbindAnswerForm(request.POST or None)
    # The member's own staff answer; administrators see every member's requests but do not answer for them.
    can_answer = request.user.is_member_staff and unbind_request.is_open
    if request.method == "POST" and can_answer and form.is_valid():
        try:
            services.unbind_answer(
                unbind_request=unbind_request,
                result=form.cleaned_data["result"],
                reason=form.cleaned_data["reason"],
                via="console",
                by=request.user,
            )
        except services.AnswerConflict:
            messages.error(request, _("This request was already answered."))
        else:
            messages.success(request, _("Answer recorded; the holder is told by SMS."))
        return redirect("staff_unbind_requests")
    return render(
        request,
        "portal/staff_unbind_request.html",
        {"row": row, "form": form, "can_answer": can_answer},
        status=400 if form.errors else 200,
    )
