"""CSV injection: every CSV the portal streams goes through portal/core/csv_export.py, which defuses any cell
a spreadsheet would run as a formula, and keeps phone numbers readable as text."""

import pytest

from portal.core.csv_export import FORMULA_PREFIXES, csv_cell
from tests.portal.recycling.test_number_event_uploads import (  # noqa: F401
    carrier_staff,
    read_all,
    rejected_rows,
    upload_dir,
    uploaded,
)

ATTACKS = [
    '=HYPERLINK("http://evil.example","x")',
    "+1+1",
    "-1+cmd|' /C calc'!A0",
    "+86+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
]


@pytest.mark.parametrize("cell", ATTACKS)
def test_attack_formula_injection_is_defused_whatever_follows_the_prefix(cell):
    assert csv_cell(cell) == "'" + cell


@pytest.mark.parametrize("prefix", FORMULA_PREFIXES)
def test_attack_formula_injection_every_listed_prefix_is_defused(prefix):
    assert set(FORMULA_PREFIXES) == {"=", "+", "-", "@", "\t", "\r"}
    assert csv_cell(prefix + "1+1") == "'" + prefix + "1+1"
    assert csv_cell(prefix + "9") == "'" + prefix + "9"  # a digit after the prefix no longer lets it through


def test_phone_numbers_stay_readable_as_text():
    assert csv_cell("+8613800138000") == "'+8613800138000"  # text, every digit shown, never computed
    assert csv_cell("13800138000") == "13800138000"
    assert csv_cell("138****8000") == "138****8000"


def test_plain_text_and_numbers_are_left_alone():
    assert [csv_cell(v) for v in ("腾讯微信", "a=b", "", 12, -3, 0.5, None)] == [
        "腾讯微信",
        "a=b",
        "",
        12,
        -3,
        0.5,
        None,
    ]


@pytest.mark.django_db
def test_attack_formula_injection_in_a_carrier_file_is_defused_in_the_rejected_rows(client):
    """A hostile carrier file: its cells come back in the rejected-rows CSV that staff open in a
    spreadsheet; none may run there."""
    content = (
        "event_id,phone_number,type,occurred_at\r\n"
        "-1+cmd|' /C calc'!A0,+8613800138000,stolen,2026-05-02T14:00:00+08:00\r\n"
        "x1,+1+1,cancelled,=1+1\r\n"
        "@SUM(1+1),13800138000,cancelled,last tuesday\r\n"
    ).encode()
    row = read_all(uploaded(client, carrier_staff(), content))
    rows = rejected_rows(client, row)
    cells = [cell for r in rows[1:] for cell in r[2:]]
    assert "'-1+cmd|' /C calc'!A0" in cells and "'+8613800138000" in cells
    assert "'+1+1" in cells and "'=1+1" in cells and "'@SUM(1+1)" in cells
    assert not [cell for cell in cells if cell[:1] in FORMULA_PREFIXES]
