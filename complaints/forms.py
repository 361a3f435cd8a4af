from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from complaints import selectors
from complaints.evidence import evidence_check
from complaints.models import Complaint
from portal.core.regions import Province
from portal.core.upload_limits import file_input_limits
from portal.verification.forms import PhoneCaptchaForm, PhoneCodeForm

CATEGORY_HINTS = {
    Complaint.Category.DEBT_COLLECTION: _(
        "Messages or calls about a debt that is not yours: a loan, a phone bill, an unpaid order."
    ),
    Complaint.Category.BANNED: _(
        "An app blocked or limited you because of what the number's previous user did, such as an unpaid ride."
    ),
    Complaint.Category.CANNOT_REGISTER: _("An app says your number is already registered or bound to another account."),
    Complaint.Category.SOMEONE_ELSES_ACCOUNT: _(
        "You logged in with an SMS code and found someone else's account, orders or messages."
    ),
    Complaint.Category.MARKETING: _("Advertising or harassing calls and messages addressed to someone else."),
    Complaint.Category.WRONG_TAG: _("Caller-ID apps show your number as fraud, marketing or a business it is not."),
    Complaint.Category.PREVIOUS_HOLDER_LOSS: _(
        "You gave up this number and someone used it to reach your money, accounts or data."
    ),
    Complaint.Category.UNBIND_NOT_HANDLED: _(
        "You asked an app to unbind the previous holder's account and it did not, in time."
    ),
    Complaint.Category.OTHER: _("Anything else caused by a recycled number."),
}


class FollowStartForm(PhoneCaptchaForm):
    """Follow a complaint: its reference and the number it was filed with."""

    reference = forms.CharField(
        label=_("Complaint reference"),
        max_length=20,
        widget=forms.TextInput(attrs={"placeholder": "TS20261122-0001", "autocapitalize": "characters"}),
    )
    field_order = ["reference", "phone_number", "captcha"]

    def clean_reference(self):
        return self.cleaned_data["reference"].strip().upper()


class HolderCodeForm(PhoneCodeForm):
    """The SMS code; following a complaint, its reference rides along."""

    reference = forms.CharField(widget=forms.HiddenInput, required=False)
    field_order = ["phone_number", "reference", "code"]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/jpeg,image/png,application/pdf"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, (list, tuple)):
            return [super(MultipleFileField, self).clean(d, initial) for d in data if d]
        return [super().clean(data, initial)] if data else []


class AppChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, app):
        return f"{app.name} · {app.organisation.legal_name}"


class ComplaintForm(forms.Form):
    """What happened. Every field keeps its value when something is refused; files must be attached again
    (a browser never re-fills a file field), and the page says so."""

    category = forms.ChoiceField(
        label=_("What is the problem?"), choices=Complaint.Category.choices, widget=forms.RadioSelect
    )
    app = AppChoiceField(
        label=_("The app or company concerned"),
        queryset=selectors.complaint_respondent_apps(),
        required=False,
        empty_label=_("— not in this list —"),
    )
    respondent_name = forms.CharField(
        label=_("Company name, if it is not in the list"),
        max_length=200,
        required=False,
        help_text=_("Companies that are not members are handled by the working group by hand."),
    )
    carrier = forms.ModelChoiceField(
        label=_("Your carrier"),
        queryset=selectors.complaint_carriers(),
        required=False,
        empty_label=_("— I don't know —"),
    )
    province = forms.ChoiceField(label=_("Province"), choices=[("", "—"), *Province.choices])
    city = forms.CharField(label=_("City"), max_length=50, required=False)
    started_on = forms.DateField(
        label=_("When did it start?"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    description = forms.CharField(
        label=_("What happened"),
        max_length=5000,
        widget=forms.Textarea(
            attrs={
                "rows": 6,
                "placeholder": _(
                    "For example: since I got this number in March I receive loan-collection SMS for a Mr Wang…"
                ),
            }
        ),
    )
    desired_outcome = forms.CharField(
        label=_("What do you want the platform to do?"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "placeholder": _("For example: unbind the old account from my number and stop the messages."),
            }
        ),
    )
    email = forms.EmailField(
        label=_("E-mail (optional)"),
        required=False,
        help_text=_("We send updates by SMS; give an e-mail address to get them by e-mail as well."),
    )
    consent_to_share = forms.BooleanField(
        label=_("The platform may read my description and attachments"),
        required=False,
        help_text=_(
            "Without this the platform receives the category and your number only, which may not be enough to help you."
        ),
    )
    evidence = MultipleFileField(
        label=_("Attachments (optional)"),
        required=False,
        help_text=_("Up to 5 files: photos or screenshots (JPEG, PNG) or PDF, 10 MB each."),
    )

    category_hints = CATEGORY_HINTS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["evidence"].widget.attrs.update(file_input_limits(settings.COMPLAINT_EVIDENCE_MAX_BYTES))

    def clean_started_on(self):
        value = self.cleaned_data.get("started_on")
        if value and value > timezone.localdate():
            raise ValidationError(_("This date is in the future."), code="future_date")
        return value

    def clean_evidence(self):
        files = self.cleaned_data.get("evidence") or []
        self.evidence_types = evidence_check(files)  # read once: the service takes them as checked
        return files

    def clean(self):
        data = super().clean()
        if not data.get("app") and not (data.get("respondent_name") or "").strip():
            self.add_error(
                "app",
                ValidationError(
                    _("Choose the app from the list, or write the company's name below."), code="respondent_required"
                ),
            )
        return data


class FeedbackForm(forms.Form):
    score = forms.TypedChoiceField(
        label=_("How satisfied are you with the answer?"),
        coerce=int,
        required=False,
        widget=forms.RadioSelect,
        choices=[(5, _("5 · very satisfied")), (4, "4"), (3, "3"), (2, "2"), (1, _("1 · not at all"))],
    )
    comment = forms.CharField(
        label=_("Comment (optional)"), max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


# --- Staff ----------------------------------------------------------------------------------------------


class AnswerForm(forms.Form):
    answer = forms.ChoiceField(label=_("Answer"), choices=Complaint.Answer.choices, widget=forms.RadioSelect)
    relief = forms.ChoiceField(label=_("Relief given"), choices=[("", "—"), *Complaint.Relief.choices], required=False)
    text = forms.CharField(
        label=_("Explanation for the holder"), max_length=5000, widget=forms.Textarea(attrs={"rows": 5})
    )


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason the holder will see"), max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )


class RerouteForm(forms.Form):
    app = AppChoiceField(label=_("Send to this app"), queryset=selectors.complaint_respondent_apps())


class MergeForm(forms.Form):
    into = forms.CharField(label=_("Merge into complaint (reference)"), max_length=20)

    def clean_into(self):
        return self.cleaned_data["into"].strip().upper()


class CloseForm(forms.Form):
    note = forms.CharField(
        label=_("What the working group did (the holder sees this)"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class StaffFilterForm(forms.Form):
    queue = forms.ChoiceField(
        label=_("Queue"),
        required=False,
        choices=[
            ("", _("All")),
            ("triage", _("Triage")),
            ("open", _("Awaiting the platform")),
            ("escalated", _("Escalated")),
            ("late", _("Untimely")),
            ("closed", _("Closed")),
        ],
    )
    state = forms.ChoiceField(label=_("State"), required=False, choices=[("", _("All")), *Complaint.State.choices])
    category = forms.ChoiceField(
        label=_("Category"), required=False, choices=[("", _("All")), *Complaint.Category.choices]
    )
    province = forms.ChoiceField(label=_("Province"), required=False, choices=[("", _("All")), *Province.choices])
    received_from = forms.DateField(
        label=_("Received from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    received_to = forms.DateField(label=_("to"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    reference = forms.CharField(label=_("Reference"), required=False, max_length=20)
