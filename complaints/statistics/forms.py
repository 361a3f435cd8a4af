"""The statistics filter: what a reader asks for, checked and fitted to what they may see."""

from django import forms
from django.utils.translation import gettext_lazy as _

from complaints.models import Complaint
from complaints.statistics.filters import Filters, default_period, fit_interval
from portal.core.regions import Province
from registry.models import Organisation


class StatisticsFilterForm(forms.Form):
    """The statistics filters, all GET parameters so a URL can be shared. Invalid values are reported and
    the default is used instead."""

    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    interval = forms.ChoiceField(
        label=_("Interval"),
        required=False,
        choices=[
            ("day", _("Day")),
            ("week", _("Week")),
            ("month", _("Month")),
            ("quarter", _("Quarter")),
            ("year", _("Year")),
        ],
    )
    province = forms.ChoiceField(label=_("Province"), required=False, choices=[("", _("All")), *Province.choices])
    carrier = forms.TypedChoiceField(label=_("Carrier"), required=False, coerce=int, empty_value=None)
    platform = forms.TypedChoiceField(label=_("Platform"), required=False, coerce=int, empty_value=None)
    category = forms.ChoiceField(
        label=_("Category"), required=False, choices=[("", _("All")), *Complaint.Category.choices]
    )
    state = forms.ChoiceField(label=_("State"), required=False, choices=[("", _("All")), *Complaint.State.choices])

    MAX_DAYS = 3 * 366 + 1  # the widest period a page or API call counts (a day interval over it stays readable)

    def __init__(self, data=None, *, province_fixed: str = ""):
        # the form shows the period and interval actually counted when the URL leaves them out
        data = data.copy() if data is not None else {}
        start, end = default_period()
        for name, value in (("start", start.isoformat()), ("end", end.isoformat()), ("interval", "month")):
            if not data.get(name):
                data[name] = value
        super().__init__(data)
        organisations = Organisation.objects.order_by("legal_name").values_list("pk", "legal_name", "kind")
        carriers = [(pk, name) for pk, name, kind in organisations if kind in Organisation.CARRIER_KINDS]
        platforms = [(pk, name) for pk, name, kind in organisations if kind not in Organisation.CARRIER_KINDS]
        self.fields["carrier"].choices = [("", _("All")), *carriers]
        self.fields["platform"].choices = [("", _("All")), *platforms]
        if province_fixed:  # a provincial regulator: the province is theirs, shown and not changeable
            self.fields["province"].choices = [(province_fixed, Province(province_fixed).label)]
            self.fields["province"].disabled = True
            self.fields["province"].initial = province_fixed

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            self.add_error("end", _("The end of the period is before its start."))
        elif start and end and (end - start).days > self.MAX_DAYS:
            self.add_error("start", _("Choose a period of at most three years."))
        return data

    def filters(self):
        """The Filters these parameters ask for; a field with an error keeps its default."""
        self.is_valid()
        data = {name: value for name, value in getattr(self, "cleaned_data", {}).items() if name not in self.errors}
        default_start, default_end = default_period()
        start, end = data.get("start") or default_start, data.get("end") or default_end
        if "start" in self.errors or "end" in self.errors or start > end:
            start, end = default_start, default_end
        interval = fit_interval(start, end, data.get("interval") or "month")
        return Filters(
            start=start,
            end=end,
            province=data.get("province") or "",
            carrier=data.get("carrier"),
            platform=data.get("platform"),
            category=data.get("category") or "",
            state=data.get("state") or "",
            interval=interval,
        )
