from django.conf import settings
from django.shortcuts import render
from django.utils.translation import gettext as _

from portal.core import errors
from portal.core.client_address import client_address
from portal.core.phone import mask_phone
from portal.core.refusals import Refusal
from portal.verification import services

SESSION_LOOKUPS = "lookups"


def refused(form, error):
    form.add_error(None, error.message if isinstance(error, Refusal) else error)


def code_page(request, template: str, form, phone_number: str, status: int = 200):
    """The SMS-code step of every holder flow (its template extends portal/code_page.html)."""
    context = {"form": form, "masked": mask_phone(phone_number), "resend_seconds": settings.LOOKUP_CODE_RESEND_SECONDS}
    return render(request, template, context, status=status)


def send_code(request, form, *, phone_number: str, purpose: str, template: str, code_form):
    """Send the holder an SMS code within the limits and show the code step, the same for every number
    whether a code went or a limit on the number withheld it; on a refusal that concerns the client
    (its daily cap, the SMS budget), None, with the reason on `form` (which keeps what was typed)."""
    try:
        services.verification_code_send(phone_number=phone_number, client_ip=client_address(request), purpose=purpose)
    except Refusal as refusal:
        refused(form, refusal)
        return None
    except errors.DEPENDENCY_EXCEPTIONS as error:
        # The person sees the form again, as typed, and a 503 saying it is temporary. Broker down: the code
        # and its SMS row are stored, and sms_resend_stuck sends it once the broker is back. Redis down
        # (the cache too): the SMS budget cannot be counted, so nothing is stored or sent.
        reference = errors.mark_unavailable(request, error)
        part = errors.dependency_of(error)
        values = {"message": errors.temporary_message(part), "reference": reference}
        if part == "broker":
            form.add_error(
                None,
                _(
                    "%(message)s If the code has not arrived in a few minutes, ask for a new one. (Reference: "
                    "%(reference)s)"
                )
                % values,
            )
        else:
            form.add_error(None, _("%(message)s (Reference: %(reference)s)") % values)
        return None
    return code_page(request, template, code_form, phone_number)


def start_step(
    request, *, form_class, template: str, carried: tuple[str, ...], purpose: str, code_template: str, code_form_class
):
    """Step 1 of a holder flow with the picture check: a valid form sends the SMS code and shows the
    code step, whose form carries the `carried` fields along hidden. "Send a new code" on the code
    step posts them back with `edit`: the form again, filled in, for a new picture."""
    if request.method == "POST" and request.POST.get("edit"):
        form = form_class(initial={k: request.POST.get(k, "") for k in carried})
    elif request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            page = send_code(
                request,
                form,
                phone_number=data["phone_number"],
                purpose=purpose,
                template=code_template,
                code_form=code_form_class(initial={k: data[k] for k in carried}),
            )
            if page:
                return page
    else:
        form = form_class()
    return render(request, template, {"form": form})
