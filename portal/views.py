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

from portal import errors, selectors, services
from portal.carrier import selectors as carrier_selectors
from portal.client_address import client_address
from portal.csv_export import csv_response
from portal.forms import (
    LookupCodeForm, LookupStartForm, NoticeSubscriptionForm, NumberEventUploadForm, PhoneCaptchaForm, PhoneCodeForm,
    UnbindAnswerForm,
)
from portal.models import NoticeDelivery, NumberEvent, VerificationCode
from portal.phone import mask_phone
from portal.uploads import refused_files_on_form, upload_limits
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


def refused(form, error):
    form.add_error(None, error.message if isinstance(error, services.Refusal) else error)


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
    except services.Refusal as refusal:
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
            form.add_error(None, _("%(message)s If the code has not arrived in a few minutes, ask for a new one. (Reference: %(reference)s)") % values)
        else:
            form.add_error(None, _("%(message)s (Reference: %(reference)s)") % values)
        return None
    return code_page(request, template, code_form, phone_number)


def start_step(request, *, form_class, template: str, carried: tuple[str, ...], purpose: str, code_template: str,
               code_form_class):
    """Step 1 of a holder flow with the picture check: a valid form sends the SMS code and shows the
    code step, whose form carries the `carried` fields along hidden. "Send a new code" on the code
    step posts them back with `edit`: the form again, filled in, for a new picture."""
    if request.method == "POST" and request.POST.get("edit"):
        form = form_class(initial={k: request.POST.get(k, "") for k in carried})
    elif request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            page = send_code(request, form, phone_number=data["phone_number"], purpose=purpose, template=code_template,
                             code_form=code_form_class(initial={k: data[k] for k in carried}))
            if page:
                return page
    else:
        form = form_class()
    return render(request, template, {"form": form})


def lookup_start(request):
    """Step 1: number, last 6 ID characters and the picture check; then the SMS code is sent."""
    return start_step(request, form_class=LookupStartForm, template="portal/lookup_start.html",
                      carried=("phone_number", "id_last6"), purpose=VerificationCode.Purpose.LOOKUP,
                      code_template=LOOKUP_CODE_TEMPLATE, code_form_class=LookupCodeForm)


LOOKUP_CODE_TEMPLATE = "portal/lookup_code.html"


@require_POST
def lookup_verify(request):
    """Step 2: the SMS code; a right code starts the lookup."""
    form = LookupCodeForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            lookup, _token = services.lookup_start(phone_number=data["phone_number"], id_last6=data["id_last6"], code=data["code"])
        except (services.Refusal, ValidationError) as error:
            refused(form, error)
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
    form = PhoneCaptchaForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        phone_number = form.cleaned_data["phone_number"]
        page = send_code(request, form, phone_number=phone_number, purpose=VerificationCode.Purpose.UNBIND,
                         template=UNBIND_CODE_TEMPLATE, code_form=PhoneCodeForm(initial={"phone_number": phone_number}))
        if page:
            return page
    proven = _proven_phone_hashes(request)
    rows = selectors.unbind_requests_for_holder(phone_hashes=proven, lookup_ids=request.session.get(SESSION_LOOKUPS, []))
    shown = [selectors.unbind_view(r) | {"phone_number": r.lookup.masked_phone_number, "requested": r.created_at, "deadline": r.deadline_at}
             for r in rows]
    context = {"form": form, "requests": shown, "proven": bool(proven),
               "carrier_actions": carrier_selectors.actions_for_holder(phone_hashes=proven)}
    return render(request, "portal/unbind_track.html", context, status=400 if form.errors else 200)


UNBIND_CODE_TEMPLATE = "portal/unbind_code.html"


@require_POST
def unbind_verify(request):
    form = PhoneCodeForm(request.POST)
    if form.is_valid():
        try:
            phone_hash = services.holder_verify(phone_number=form.cleaned_data["phone_number"], code=form.cleaned_data["code"],
                                                purpose="unbind")
        except (services.Refusal, ValidationError) as error:
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
    return render(request, "portal/staff_unbind_requests.html",
                  {"rows": rows, "state": state, "filters": selectors.unbind_filter_choices()})


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
            services.unbind_answer(unbind_request=unbind_request, result=form.cleaned_data["result"],
                                   reason=form.cleaned_data["reason"], via="console", by=request.user)
        except services.AnswerConflict:
            messages.error(request, _("This request was already answered."))
        else:
            messages.success(request, _("Answer recorded; the holder is told by SMS."))
        return redirect("staff_unbind_requests")
    return render(request, "portal/staff_unbind_request.html", {"row": row, "form": form, "can_answer": can_answer},
                  status=400 if form.errors else 200)


# --- Recycled-number notices: what staff see and do -------------------------------------------------------


@login_required
def staff_app_notices(request, pk: int):
    """An app's notice subscription (its staff change it; a new secret is shown once), its totals and
    its recent notices, parked first."""
    from registry.selectors import member_app_list_for_user
    from registry.scoping import scope_for_user

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
        "app": app, "subscription": subscription, "form": form, "secret": secret,
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
    from registry.scoping import scope_for_user

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
    from registry.scoping import scope_for_user

    return get_object_or_404(scope_for_user(NoticeDelivery.objects.select_related("subscription__app"), request.user), pk=notice_id)


@login_required
def staff_notice_detail(request, notice_id):
    delivery = _own_notice(request, notice_id)
    return render(request, "portal/staff_notice_detail.html", {"delivery": delivery, "attempts": delivery.attempt_log.all()})


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


# --- "Is my number second-hand?" -------------------------------------------------------------------------

SESSION_SECOND_HAND = "second_hand"


def second_hand_start(request):
    """Step 1: the number and the picture check; then the SMS code is sent."""
    return start_step(request, form_class=PhoneCaptchaForm, template="portal/second_hand_start.html",
                      carried=("phone_number",), purpose=VerificationCode.Purpose.SECOND_HAND,
                      code_template=SECOND_HAND_CODE_TEMPLATE, code_form_class=PhoneCodeForm)


SECOND_HAND_CODE_TEMPLATE = "portal/second_hand_code.html"


@require_POST
def second_hand_verify(request):
    """Step 2: the SMS code; the answer is kept in the session (no number in clear) and shown."""
    form = PhoneCodeForm(request.POST)
    if form.is_valid():
        phone = form.cleaned_data["phone_number"]
        try:
            services.verification_code_check(phone_number=phone, code=form.cleaned_data["code"],
                                             purpose=VerificationCode.Purpose.SECOND_HAND)
        except services.Refusal as refusal:
            refused(form, refusal)
        else:
            report = selectors.number_second_hand(phone_number=phone)
            request.session[SESSION_SECOND_HAND] = {
                **report, "phone_number": mask_phone(phone),
                "cancelled_month": report["cancelled_month"] and report["cancelled_month"].isoformat(),
                "reassigned_month": report["reassigned_month"] and report["reassigned_month"].isoformat(),
            }
            return redirect("second_hand_result")
    return code_page(request, SECOND_HAND_CODE_TEMPLATE, form, request.POST.get("phone_number", ""), status=400)


@never_cache
def second_hand_result(request):
    from datetime import date

    if SESSION_SECOND_HAND not in request.session:
        return redirect("second_hand_start")
    report = dict(request.session[SESSION_SECOND_HAND])  # a copy: the session keeps the JSON-safe strings
    for key in ("cancelled_month", "reassigned_month"):
        report[key] = date.fromisoformat(report[key]) if report[key] else None
    return render(request, "portal/second_hand_result.html", {"report": report})


# --- Carrier console: monthly CSV files of number events ---------------------------------------------


def _uploads_for(request):
    """The uploads this user may see; a 404 for staff who neither report events nor administer."""
    user = request.user
    if not (user.is_administrator or (user.role == StaffUser.Role.CARRIER_STAFF and user.organisation_id)):
        raise Http404
    return selectors.number_event_upload_list(user=user)


@upload_limits(per_file="NUMBER_EVENT_UPLOAD_MAX_BYTES")
@login_required
def staff_number_event_uploads(request):
    """Upload history, and the upload form for carrier staff."""
    uploads = _uploads_for(request)
    can_upload = request.user.role == StaffUser.Role.CARRIER_STAFF
    form = NumberEventUploadForm()
    if request.method == "POST" and can_upload:
        form = NumberEventUploadForm(request.POST, request.FILES)
        refused_files_on_form(request, form, "file")
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


@login_required
def staff_number_event_upload_rejected(request, pk: int):
    """The rejected rows as CSV (UTF-8 with BOM, so spreadsheets show the Chinese reasons): the line in
    the uploaded file, the reason in the reader's language, and the row as given."""
    upload = get_object_or_404(_uploads_for(request), pk=pk)
    fields = list(services.NUMBER_EVENT_FIELDS)

    def rows():
        yield [_("line"), _("reason"), *fields]
        for line, code, detail, cells in selectors.number_event_upload_rejected_rows(upload=upload):
            if len(cells) == len(upload.columns):
                cells = [dict(zip(upload.columns, cells)).get(field, "") for field in fields]
            yield [line, services.number_event_rejection_text(code, detail), *cells]

    return csv_response(rows(), f"rejected-rows-{upload.pk}.csv")


@login_required
def staff_number_event_demo_file(request):
    """Development only: the demo carrier's made-up monthly file, to try the upload with."""
    from registry.demo import DEMO_CARRIER_FILE_NAME, demo_carrier_file_rows

    if not settings.DEBUG:
        raise Http404
    _uploads_for(request)
    return csv_response(demo_carrier_file_rows(), DEMO_CARRIER_FILE_NAME, bom=False)
