import csv

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from portal import selectors, services
from portal.forms import LookupCodeForm, LookupStartForm, NumberEventUploadForm
from portal.models import Lookup, NumberEvent
from portal.phone import mask_phone
from registry.models import StaffUser


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


# --- Carrier console: monthly CSV files of number events ---------------------------------------------


def _uploads_for(request):
    """The uploads this user may see; a 404 for staff who neither report events nor administer."""
    user = request.user
    if not (user.is_administrator or (user.role == StaffUser.Role.CARRIER_STAFF and user.organisation_id)):
        raise Http404
    return selectors.number_event_upload_list(user=user)


@login_required
def staff_number_event_uploads(request):
    """Upload history, and the upload form for carrier staff."""
    uploads = _uploads_for(request)
    can_upload = request.user.role == StaffUser.Role.CARRIER_STAFF
    form = NumberEventUploadForm()
    if request.method == "POST" and can_upload:
        form = NumberEventUploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                upload = services.number_event_upload_create(
                    carrier=request.user.organisation, uploaded_by=request.user, file=form.cleaned_data["file"]
                )
            except ValidationError as error:
                form.add_error("file", error)
            else:
                return redirect("staff_number_event_upload", pk=upload.pk)
    context = {"uploads": uploads[:100], "form": form if can_upload else None, "demo_file": settings.DEBUG,
               "max_bytes": settings.NUMBER_EVENT_UPLOAD_MAX_BYTES, "types": NumberEvent.Type.choices}
    return render(request, "portal/staff_number_event_uploads.html", context, status=400 if form.errors else 200)


@never_cache
@login_required
def staff_number_event_upload(request, pk: int):
    upload = get_object_or_404(_uploads_for(request), pk=pk)
    context = {"upload": upload, "progress": selectors.number_event_upload_progress(upload)}
    return render(request, "portal/staff_number_event_upload.html", context)


@never_cache
@login_required
def staff_number_event_upload_progress(request, pk: int):
    upload = get_object_or_404(_uploads_for(request), pk=pk)
    return JsonResponse(selectors.number_event_upload_progress(upload))


class _Echo:
    def write(self, value):
        return value


def _csv_cell(value: str) -> str:
    """Keep a spreadsheet from running a cell as a formula (a phone number's leading + stays)."""
    if value[:1] in ("=", "@", "\t", "\r") or (value[:1] in ("+", "-") and not value[1:2].isdigit()):
        return "'" + value
    return value


@login_required
def staff_number_event_upload_rejected(request, pk: int):
    """The rejected rows as CSV (UTF-8 with BOM, so spreadsheets show the Chinese reasons): the line in
    the uploaded file, the reason in the reader's language, and the row as given."""
    upload = get_object_or_404(_uploads_for(request), pk=pk)
    writer, fields, language = csv.writer(_Echo()), list(services.NUMBER_EVENT_FIELDS), translation.get_language()

    def rows():  # consumed after the view has returned, so the request's language is set again here
        with translation.override(language):
            yield "\ufeff" + writer.writerow([_("line"), _("reason"), *fields])
            for line, code, detail, cells in selectors.number_event_upload_rejected_rows(upload=upload):
                if len(cells) == len(upload.columns):
                    cells = [dict(zip(upload.columns, cells)).get(field, "") for field in fields]
                yield writer.writerow([line, services.number_event_rejection_text(code, detail), *(_csv_cell(c) for c in cells)])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="rejected-rows-{upload.pk}.csv"'
    return response


@login_required
def staff_number_event_demo_file(request):
    """Development only: the demo carrier's made-up monthly file, to try the upload with."""
    from registry.demo import DEMO_CARRIER_FILE_NAME, demo_carrier_file_rows

    if not settings.DEBUG:
        raise Http404
    _uploads_for(request)
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse((writer.writerow(row) for row in demo_carrier_file_rows()), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{DEMO_CARRIER_FILE_NAME}"'
    return response
