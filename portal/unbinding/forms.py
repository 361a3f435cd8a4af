from django import forms
from django.utils.translation import gettext_lazy as _


class UnbindAnswerForm(forms.Form):
    """Platform staff answer an unbind request."""

    result = forms.ChoiceField(
        label=_("Answer"),
        widget=forms.RadioSelect,
        choices=[("done", _("Done: the bindings were removed")), ("refused", _("Refused"))],
    )
    reason = forms.CharField(
        label=_("Reason for the refusal"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Shown to the holder. Say what they can do instead."),
    )

    def clean(self):
        data = super().clean()
        if data.get("result") == "refused" and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Give the reason for the refusal: the holder reads it."))
        return data
