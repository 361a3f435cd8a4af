import pytest
from django.core.exceptions import ValidationError

from portal.core.phone import mask_phone, normalize_phone, to_e164


@pytest.mark.parametrize(
    "raw", ["13812345678", "138 1234 5678", "138-1234-5678", "+86 138 1234 5678", "008613812345678"]
)
def test_accepts_the_ways_people_write_a_number(raw):
    assert normalize_phone(raw) == "13812345678"


@pytest.mark.parametrize("raw", ["", "12812345678", "1381234567", "138123456789", "abc", "+1 138 1234 5678"])
def test_refuses_what_is_not_a_mainland_mobile_number(raw):
    with pytest.raises(ValidationError) as error:
        normalize_phone(raw)
    assert error.value.code == "invalid_phone"


def test_e164_and_masking():
    assert to_e164("138 1234 5678") == "+8613812345678"
    assert mask_phone("13812345678") == "138****5678"
