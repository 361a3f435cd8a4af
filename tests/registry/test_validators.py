import pytest
from django.core.exceptions import ValidationError

from registry.validators import uscc_check_character, validate_uscc


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91350100m000100y43 "])
def test_published_example_code_is_valid_in_any_case(code):
    validate_uscc(code)


def test_check_character_is_computed_over_the_31_character_alphabet():
    assert uscc_check_character("91350100M000100Y4") == "3"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("91350100M000100Y44", "uscc_check"),  # a typo in the last character
        ("91350100M000100Y34", "uscc_check"),  # two characters swapped
        ("91350100M000100Y4", "uscc_length"),
        ("91350100MO00100Y43", "uscc_charset"),  # letter O is never used
        ("9135A100M000100Y43", "uscc_region"),
    ],
)
def test_bad_codes_are_refused_with_a_reason(code, reason):
    with pytest.raises(ValidationError) as error:
        validate_uscc(code)
    assert error.value.code == reason
