"""Mainland mobile numbers: 11 digits starting 1[3-9]; E.164 is +86 followed by them."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_MOBILE = re.compile(r"1[3-9]\d{9}")
_SEPARATORS = re.compile(r"[\s\-().]")


def normalize_phone(raw: str) -> str:
    """'+86 138-1234-5678' -> '13812345678'; a clear ValidationError for anything else."""
    if isinstance(raw, str) and _MOBILE.fullmatch(raw):  # already plain (stored numbers, carrier files): no rewriting
        return raw
    digits = _SEPARATORS.sub("", raw or "")
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix) :]
            break
    if not _MOBILE.fullmatch(digits):
        raise ValidationError(
            _("Enter a mainland mobile number: 11 digits starting with 13 to 19, for example 138 1234 5678."),
            code="invalid_phone",
        )
    return digits


def to_e164(number: str) -> str:
    return "+86" + normalize_phone(number)


def mask_phone(number: str) -> str:
    """138****5678: what every page shows of a phone number."""
    digits = re.sub(r"\D", "", number or "")[-11:]
    return f"{digits[:3]}****{digits[-4:]}" if len(digits) == 11 else "***"
