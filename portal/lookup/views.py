from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from portal.core import errors
from portal.core.refusals import Refusal
from portal.lookup import selectors, services
from portal.lookup.forms import LookupCodeForm, LookupStartForm
from portal.unbinding.services import unbind_request_create
from portal.verification.models import VerificationCode
from portal.verification.views import SESSION_LOOKUPS, code_page, refused, start_step
from registry.selectors import member_app_list_for_user


def lookup_start(request):
    """Step 1: number, last 6 ID characters and the picture check; then the SMS code is sent."""
    return start_step(
        request,
        form_class=LookupStartForm,
        template="portal/lookup_start.html",
        carried=("phone_number", "id_last6"),
        purpose=VerificationCode.Purpose.LOOKUP,
        code_template=LOOKUP_CODE_TEMPLATE,
        code_form_class=LookupCodeForm,
    )


LOOKUP_CODE_TEMPLATE = "portal/lookup_code.html"


@require_POST
def lookup_verify(request):
    """Step 2: the SMS code; a right code starts the lookup."""
    form = LookupCodeForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            lookup, _token = services.lookup_start(
                phone_number=data["phone_number"], id_last6=data["id_last6"], code=data["code"]
            )
        except (Refusal, ValidationError) as error:
            refused(form, error)
        except errors.DEPENDENCY_EXCEPTIONS as error:  # busy (admission) or a part down: 503, the form as typed
            form.add_error(None, errors.unavailable_sentence(request, error))
        else:
            request.session[SESSION_LOOKUPS] = [*request.session.get(SESSION_LOOKUPS, [])[-9:], str(lookup.pk)]
            return redirect("lookup_results", lookup_id=lookup.pk)
    return code_page(request, LOOKUP_CODE_TEMPLATE, form, request.POST.get("phone_number", ""), status=400)


def _own_lookup(request, lookup_id):
    if str(lookup_id) not in request.session.get(SESSION_LOOKUPS, []):
        raise Http404
    return get_object_or_404(selectors.lookups_open_to_holder(), pk=lookup_id)


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


@login_required
def staff_app_queries(request, pk: int):
    app = get_object_or_404(member_app_list_for_user(user=request.user), pk=pk)
    queries = selectors.lookup_query_log(user=request.user, app=app)
    return render(request, "registry/staff/app_queries.html", {"app": app, "queries": queries})


@require_POST
def lookup_unbind(request, lookup_id):
    """From the results page: send one app's accounts (`app`) or every app's (`all`) for unbinding."""
    lookup = _own_lookup(request, lookup_id)
    try:
        app_ids = None if request.POST.get("all") else [int(request.POST.get("app", ""))]
        made = unbind_request_create(lookup=lookup, app_ids=app_ids)
    except ValueError:
        messages.error(request, _("Choose an app to unbind."))
    except Refusal as refusal:
        messages.error(request, refusal.message)
    else:
        new = sum(1 for r in made if r.created_now)
        if new:
            messages.success(
                request,
                ngettext(
                    "Sent to %(n)d app for unbinding. It has %(days)d working days to answer; follow it below or on "
                    "the unbinding page.",
                    "Sent to %(n)d apps for unbinding. They have %(days)d working days to answer; follow them below "
                    "or on the unbinding page.",
                    new,
                )
                % {"n": new, "days": settings.UNBIND_WORKING_DAYS},
            )
        else:
            messages.info(request, _("This was already sent for unbinding; follow it below."))
    return redirect(reverse("lookup_results", args=[lookup.pk]) + "#unbinding")
