"""Complaint pages: the holder files and follows with an SMS code (no account); staff work their cases.
Views parse input, call one service or selector, and render."""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from complaints import selectors, services
from complaints.forms import (
    AnswerForm,
    CloseForm,
    ComplaintForm,
    FeedbackForm,
    FollowStartForm,
    HolderCodeForm,
    MergeForm,
    RejectForm,
    RerouteForm,
    StaffFilterForm,
)
from complaints.models import Complaint
from portal.core.crypto import decrypt, encrypt
from portal.core.csv_export import csv_response
from portal.core.phone import mask_phone
from portal.core.refusals import Refusal
from portal.core.upload_limits import refused_files_on_form, upload_limits
from portal.verification import services as portal_services
from portal.verification.forms import PhoneCaptchaForm
from portal.verification.views import code_page, refused, send_code

SESSION_HOLDER = "complaint_holder"  # the number proven by SMS code, encrypted, with the time
SESSION_COMPLAINTS = "complaints"  # ids of the complaints this browser may show
SESSION_UNBIND = "complaint_unbind"  # the overdue unbind request a complaint is being filed from

PURPOSE = "complaint"


def index(request):
    return render(request, "complaints/index.html")


# --- Proving the number ---------------------------------------------------------------------------------


def _verified_phone(request) -> str | None:
    holder = request.session.get(SESSION_HOLDER)
    if not holder:
        return None
    if timezone.now() - datetime.fromisoformat(holder["at"]) > timedelta(minutes=settings.COMPLAINT_VERIFIED_MINUTES):
        request.session.pop(SESSION_HOLDER, None)
        return None
    return decrypt(holder["phone"])


def _remember_complaint(request, complaint: Complaint) -> None:
    request.session[SESSION_COMPLAINTS] = [*request.session.get(SESSION_COMPLAINTS, [])[-19:], complaint.pk]


CODE_TEMPLATE = "complaints/code.html"


def _send_code(request, form, phone_number, reference=""):
    return send_code(
        request,
        form,
        phone_number=phone_number,
        purpose=PURPOSE,
        template=CODE_TEMPLATE,
        code_form=HolderCodeForm(initial={"phone_number": phone_number, "reference": reference}),
    )


def file_start(request):
    """Step 1 of filing: the number and the picture check; an SMS code follows."""
    if request.GET.get("unbind"):
        request.session[SESSION_UNBIND] = request.GET["unbind"][:64]
    if _verified_phone(request):
        return redirect("complaints:form")
    form = PhoneCaptchaForm(request.POST or None)  # the number and the picture check, then an SMS code
    if request.method == "POST" and form.is_valid():
        page = _send_code(request, form, form.cleaned_data["phone_number"])
        if page:
            return page
    return render(request, "complaints/start.html", {"form": form, "mode": "file"})


def follow_start(request):
    """Follow a complaint: reference, number, picture check, then an SMS code."""
    form = FollowStartForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if (
            selectors.complaint_by_reference_and_number(reference=data["reference"], phone_number=data["phone_number"])
            is None
        ):
            form.add_error(
                None, _("No complaint with this reference was filed with this number. Check both and try again.")
            )
        else:
            page = _send_code(request, form, data["phone_number"], data["reference"])
            if page:
                return page
    return render(request, "complaints/start.html", {"form": form, "mode": "follow"})


@require_POST
def verify(request):
    form = HolderCodeForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            portal_services.verification_code_check(
                phone_number=data["phone_number"], code=data["code"], purpose=PURPOSE
            )
        except (Refusal, ValidationError) as error:
            refused(form, error)
        else:
            request.session[SESSION_HOLDER] = {"phone": encrypt(data["phone_number"]), "at": timezone.now().isoformat()}
            if data.get("reference"):
                complaint = selectors.complaint_by_reference_and_number(
                    reference=data["reference"], phone_number=data["phone_number"]
                )
                if complaint:
                    _remember_complaint(request, complaint)
                    return redirect("complaints:detail", reference=complaint.reference)
            return redirect("complaints:form")
    return code_page(request, CODE_TEMPLATE, form, request.POST.get("phone_number", ""), status=400)


# --- Filing ---------------------------------------------------------------------------------------------


@upload_limits(per_file="COMPLAINT_EVIDENCE_MAX_BYTES", files="COMPLAINT_EVIDENCE_FILES")
@never_cache
def complaint_form(request):
    phone_number = _verified_phone(request)
    if not phone_number:
        messages.info(request, _("Prove your number with an SMS code first; it takes a minute."))
        return redirect("complaints:file")
    unbind_id = request.session.get(SESSION_UNBIND)
    if request.method == "POST":
        form = ComplaintForm(request.POST, request.FILES)
        refused_files_on_form(request, form, "evidence")
        if form.is_valid():
            data = form.cleaned_data
            unbind = selectors.unbind_request_for_holder(phone_number=phone_number, unbind_id=unbind_id)
            complaint = services.complaint_file(
                phone_number=phone_number,
                category=data["category"],
                app=data["app"],
                respondent_name=data["respondent_name"],
                carrier=data["carrier"],
                province=data["province"],
                city=data["city"],
                started_on=data["started_on"],
                description=data["description"],
                desired_outcome=data["desired_outcome"],
                consent_to_share=data["consent_to_share"],
                email=data["email"],
                evidence=data["evidence"],
                evidence_types=form.evidence_types,
                unbind_request_id=unbind.public_id if unbind else None,
            )
            request.session.pop(SESSION_UNBIND, None)
            _remember_complaint(request, complaint)
            messages.success(
                request,
                _(
                    "Your complaint was filed. Its reference, %(reference)s, was also sent to you by SMS: "
                    "keep it to follow the complaint."
                )
                % {"reference": complaint.reference},
            )
            return redirect("complaints:detail", reference=complaint.reference)
    else:
        form = ComplaintForm(initial=selectors.complaint_prefill(phone_number=phone_number, unbind_id=unbind_id))
    return render(
        request,
        "complaints/form.html",
        {
            "form": form,
            "masked": mask_phone(phone_number),
            "had_files": bool(request.FILES),
        },
        status=400 if form.errors else 200,
    )


def _holder_complaint(request, reference) -> Complaint:
    complaint = Complaint.objects.filter(
        reference=reference, pk__in=request.session.get(SESSION_COMPLAINTS, [])
    ).first()
    if complaint is None:
        raise Http404
    return complaint


def _holder_detail_page(request, complaint, form=None, status=200):
    return render(
        request,
        "complaints/detail.html",
        {
            "complaint": complaint,
            "events": selectors.complaint_timeline_for_holder(complaint=complaint),
            "feedback_form": form if form is not None else FeedbackForm(),
            "evidence": complaint.evidence.all(),
        },
        status=status,
    )


@never_cache
def detail(request, reference):
    return _holder_detail_page(request, _holder_complaint(request, reference))


@require_POST
def feedback(request, reference):
    complaint = _holder_complaint(request, reference)
    form = FeedbackForm(request.POST)
    if form.is_valid():
        try:
            services.complaint_feedback(
                complaint=complaint,
                score=form.cleaned_data["score"],
                dispute=bool(request.POST.get("dispute")),
                comment=form.cleaned_data["comment"],
            )
        except services.NotAllowed as refusal:
            form.add_error(None, refusal.message)
        except ValidationError as error:
            form.add_error("score", error)
        else:
            messages.success(request, _("Thank you. Your feedback was recorded."))
            return redirect("complaints:detail", reference=reference)
    return _holder_detail_page(request, complaint, form, status=400)


def evidence_file(request, evidence_id):
    """An attachment, for the holder who filed it or for staff allowed to see it; nobody else."""
    if request.user.is_authenticated:
        evidence = selectors.evidence_for_user(user=request.user, evidence_id=evidence_id)
    else:
        evidence = selectors.evidence_for_holder(
            complaint_ids=request.session.get(SESSION_COMPLAINTS, []), evidence_id=evidence_id
        )
    response = FileResponse(
        evidence.file.open("rb"),
        content_type=evidence.content_type,
        as_attachment=evidence.content_type == "application/pdf",
        filename=evidence.original_name,
    )
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response


# --- Staff ----------------------------------------------------------------------------------------------


def _filters(request) -> tuple[StaffFilterForm, dict]:
    form = StaffFilterForm(request.GET or None)
    filters = {k: v for k, v in form.cleaned_data.items() if v} if form.is_valid() else {}
    if request.GET.get("app", "").isdigit():
        filters["app"] = int(request.GET["app"])
    return form, filters


@login_required
def staff_list(request):
    if not (request.user.is_administrator or request.user.is_member_staff):
        raise Http404
    form, filters = _filters(request)
    complaints = selectors.complaint_list_for_user(user=request.user, filters=filters)[:200]
    return render(
        request,
        "complaints/staff_list.html",
        {
            "filter_form": form,
            "complaints": complaints,
            "counts": selectors.complaint_counts_for_user(user=request.user),
            "query": request.GET.urlencode(),
        },
    )


@login_required
def staff_export(request):
    """The user's own cases as CSV, streamed (no narrative; numbers masked)."""
    if not (request.user.is_administrator or request.user.is_member_staff):
        raise Http404
    _form, filters = _filters(request)
    return csv_response(
        selectors.complaint_export_rows(user=request.user, filters=filters),
        f"complaints-{timezone.localdate():%Y%m%d}.csv",
    )


STAFF_FORMS = {
    "answer": AnswerForm,
    "reject": RejectForm,
    "reroute": RerouteForm,
    "merge": MergeForm,
    "close": CloseForm,
}
ADMIN_ACTIONS = {"accept", "reject", "reroute", "merge", "close"}


def _staff_detail_page(request, complaint, forms=None, status=200):
    forms = forms or {}
    user = request.user
    context = {
        "complaint": complaint,
        "events": selectors.complaint_timeline(complaint=complaint),
        "shows_narrative": selectors.complaint_shows_narrative(complaint=complaint, user=user),
        "evidence": complaint.evidence.all(),
        "can_answer": user.is_member_staff and complaint.awaiting_platform,
        "can_triage": user.is_administrator and complaint.state in services.TRIAGE_STATES,
        "can_accept": user.is_administrator and complaint.state in services.ACCEPT_FROM,
        "can_reroute": user.is_administrator and complaint.state in services.REROUTE_FROM,
        "can_close": user.is_administrator and complaint.state in services.CLOSE_FROM,
    }
    for name, form_class in STAFF_FORMS.items():
        context[f"{name}_form"] = forms.get(name) or form_class()
    return render(request, "complaints/staff_detail.html", context, status=status)


@login_required
def staff_detail(request, reference):
    complaint = selectors.complaint_for_user(user=request.user, reference=reference)
    return _staff_detail_page(request, complaint)


@login_required
@require_POST
def staff_action(request, reference, action):
    user = request.user
    complaint = selectors.complaint_for_user(user=user, reference=reference)
    if action in ADMIN_ACTIONS and not user.is_administrator or action == "answer" and not user.is_member_staff:
        raise Http404
    form = STAFF_FORMS[action](request.POST) if action in STAFF_FORMS else None
    if form is not None and not form.is_valid():
        return _staff_detail_page(request, complaint, {action: form}, status=400)
    data = form.cleaned_data if form else {}
    try:
        if action == "accept":
            services.complaint_accept(complaint=complaint, by=user)
        elif action == "reject":
            services.complaint_reject(complaint=complaint, by=user, reason=data["reason"])
        elif action == "reroute":
            services.complaint_reroute(complaint=complaint, by=user, app=data["app"])
        elif action == "merge":
            into = Complaint.objects.filter(reference=data["into"]).first()
            if into is None:
                raise ValidationError(_("No complaint has this reference."))
            services.complaint_merge(complaint=complaint, into=into, by=user)
        elif action == "close":
            services.complaint_close(complaint=complaint, by=user, note=data["note"])
        elif action == "answer":
            services.complaint_answer(
                complaint=complaint, by=user, answer=data["answer"], relief=data["relief"], text=data["text"]
            )
        else:
            raise Http404
    except (services.NotAllowed, ValidationError) as error:
        message = error.message if isinstance(error, services.NotAllowed) else " ".join(error.messages)
        if form is None:
            messages.error(request, message)
            return redirect("complaints:staff_detail", reference=complaint.reference)
        form.add_error(None, message)
        return _staff_detail_page(request, complaint, {action: form}, status=400)
    messages.success(request, _("Saved."))
    return redirect("complaints:staff_detail", reference=complaint.reference)
