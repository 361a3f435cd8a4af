"""The restore drill's comparison (bench/restore_drill.py): what it ignores between two fetches of a page,
and which tables it reports. The drill itself is run by hand (it starts its own PostgreSQL cluster)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from restore_drill import differences, normalise  # noqa: E402

PAGE = (
    '<form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="{token}">'
    '<script nonce="{nonce}" src="/static/x.js"></script><p>{state}</p></form>'
)


def test_two_fetches_of_one_page_differ_only_in_csrf_token_and_nonce():
    first = PAGE.format(token="a1", nonce="n1", state="已答复").encode()
    second = PAGE.format(token="b2", nonce="n2", state="已答复").encode()
    assert normalise(first, "text/html; charset=utf-8") == normalise(second, "text/html; charset=utf-8")


def test_a_page_showing_another_state_is_a_difference():
    before = PAGE.format(token="a1", nonce="n1", state="已答复").encode()
    after = PAGE.format(token="a1", nonce="n1", state="已转给平台").encode()
    assert normalise(before, "text/html") != normalise(after, "text/html")


def test_json_answers_compare_by_content_not_key_order():
    assert normalise(b'{"a": 1, "b": [2]}', "application/json") == normalise(b'{"b": [2], "a": 1}', "application/json")
    assert normalise(b'{"a": 1}', "application/json") != normalise(b'{"a": 2}', "application/json")


def test_differences_name_tables_with_other_counts_or_rows_and_tables_one_side_lacks():
    before = {
        "portal_lookup": (465, "d1"),
        "complaints_complaint": (373, "d2"),
        "portal_smsmessage": (137, "d3"),
        "django_session": (7, "d4"),
    }
    after = {
        "portal_lookup": (450, "d0"),
        "complaints_complaint": (373, "dX"),
        "portal_smsmessage": (137, "d3"),
        "portal_extra": (0, ""),
    }
    assert differences(before, after) == ["complaints_complaint", "django_session", "portal_extra", "portal_lookup"]
    assert differences(before, dict(before)) == []
