from django import forms

from portal.verification.forms import CodeFieldMixin, HolderForm, captcha_field


class LookupStartForm(HolderForm):
    captcha = captcha_field()


class LookupCodeForm(CodeFieldMixin, HolderForm):
    phone_number = forms.CharField(widget=forms.HiddenInput)
    id_last6 = forms.CharField(widget=forms.HiddenInput)
    field_order = ["phone_number", "id_last6", "code"]
