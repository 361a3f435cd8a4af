"""The second-hand check: number and picture check, SMS code, then the number's past."""

from datetime import date

from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from portal.core.phone import mask_phone
from portal.core.refusals import Refusal
from portal.secondhand.selectors import number_second_hand
from portal.verification.forms import PhoneCaptchaForm, PhoneCodeForm
from portal.verification.models import VerificationCode
from portal.verification.services import verification_code_check
from portal.verification.views import code_page, refused, start_step

SESSION_SECOND_HAND = "second_hand"


def second_hand_start(request):
    """Step 1: the number and the picture check; then the SMS code is sent."""
    return start_step(
        request,
        form_class=PhoneCaptchaForm,
        template="portal/second_hand_start.html",
        carried=("phone_number",),
        purpose=VerificationCode.Purpose.SECOND_HAND,
        code_template=SECOND_HAND_CODE_TEMPLATE,
        code_form_class=PhoneCodeForm,
    )


SECOND_HAND_CODE_TEMPLATE = "portal/second_hand_code.html"


@require_POST
def second_hand_verify(request):
    """Step 2: the SMS code; the answer is kept in the session (no number in clear) and shown."""
    form = PhoneCodeForm(request.POST)
    if form.is_valid():
        phone = form.cleaned_data["phone_number"]
        try:
            verification_code_check(
                phone_number=phone, code=form.cleaned_data["code"], purpose=VerificationCode.Purpose.SECOND_HAND
            )
        except Refusal as refusal:
            refused(form, refusal)
        else:
            report = number_second_hand(phone_number=phone)
            request.session[SESSION_SECOND_HAND] = {
                **report,
                "phone_number": mask_phone(phone),
                "cancelled_month": report["cancelled_month"] and report["cancelled_month"].isoformat(),
                "reassigned_month": report["reassigned_month"] and report["reassigned_month"].isoformat(),
            }
            return redirect("second_hand_result")
    return code_page(request, SECOND_HAND_CODE_TEMPLATE, form, request.POST.get("phone_number", ""), status=400)


@never_cache
def second_hand_result(request):
    if SESSION_SECOND_HAND not in request.session:
        return redirect("second_hand_start")
    report = dict(request.session[SESSION_SECOND_HAND])  # a copy: the session keeps the JSON-safe strings
    for key in ("cancelled_month", "reassigned_month"):
        report[key] = date.fromisoformat(report[key]) if report[key] else None
    return render(request, "portal/second_hand_result.html", {"report": report})
