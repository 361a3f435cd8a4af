"""Members' bulk checks as files (as the FCC's reassigned-numbers database offers): a file of number,date rows
uploaded in the console or by API, checked in the background a chunk at a time with the 1,000-number call's
rule, the result a CSV (yes / no / no_data, or invalid with the reason, per row), deleted after 7 days."""

import csv
import io
import json
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from portal.bulkcheck import selectors, services, tasks
from portal.core import enqueue
from portal.models import BulkCheckFile
from portal.recycling.models import NumberCheckAudit, NumberEvent
from portal.recycling.selectors import numbers_recycled_since
from registry import services as registry_services
from registry.carriers import carrier_segments_forget
from tests.registry.factories import IntegrationFactory, OrganisationFactory, StaffUserFactory, platform_staff

pytestmark = pytest.mark.django_db
FILES = reverse("staff_bulk_check_files")
API = reverse("api_bulk_check_files")

# A BOM and a header, then: changed hands (cancelled after), not changed (re-assigned on the day itself),
# nobody held it that day, no reporting carrier, a blank line, and four bad rows.
LIST = (
    "\ufeffnumber,date\r\n"
    "+8613812345678,2023-12-22\r\n"
    "138 1234 5678,2024-09-21\r\n"
    "13812345678,2024-03-01\r\n"
    "17712345678,2024-03-01\r\n"
    "\r\n"
    "12345,2024-03-01\r\n"
    "13812345678,21/03/2024\r\n"
    "13812345678\r\n"
    "13812345678,2999-01-01\r\n"
).encode("utf-8")
EXPECTED = [
    ["row", "phone_number", "date", "answer", "reason", "reason_text"],
    ["2", "'+8613812345678", "2023-12-22", "yes", "cancelled_after", "a carrier cancelled the number after the date"],
    ["3", "138 1234 5678", "2024-09-21", "no", "no_change", "no cancellation or re-assignment reported after the date"],
    [
        "4",
        "13812345678",
        "2024-03-01",
        "yes",
        "unassigned_on_date",
        "the number was cancelled and held by nobody on the date",
    ],
    ["5", "17712345678", "2024-03-01", "no_data", "not_covered", "no reporting carrier covers this number"],
    [
        "7",
        "12345",
        "2024-03-01",
        "invalid",
        "bad_number",
        "not a mainland mobile number (11 digits starting 13 to 19, or +86 and them)",
    ],
    ["8", "13812345678", "21/03/2024", "invalid", "bad_date", "the date must be YYYY-MM-DD"],
    ["9", "13812345678", "", "invalid", "columns", "a row must have two columns: number,date"],
    ["10", "13812345678", "2999-01-01", "invalid", "future_date", "the date is in the future"],
]


@pytest.fixture(autouse=True)
def file_dir(request, settings, tmp_path):
    if "celery_workers" not in request.fixturenames:
        settings.BULK_CHECK_FILE_DIR = tmp_path / "bulk-checks"
    return settings.BULK_CHECK_FILE_DIR


@pytest.fixture(autouse=True)
def history():
    """User A had 138 1234 5678 until 2024-02-25; user B got it on 2024-09-21 (CAMARA's scenario 2)."""
    carrier = OrganisationFactory(kind="basic_carrier", number_segments="138 139")
    tz = timezone.get_current_timezone()
    NumberEvent.objects.create(
        carrier=carrier,
        event_id="c",
        phone_number="13812345678",
        type="cancelled",
        occurred_at=datetime(2024, 2, 25, 10, tzinfo=tz),
    )
    NumberEvent.objects.create(
        carrier=carrier,
        event_id="r",
        phone_number="13812345678",
        type="reassigned",
        occurred_at=datetime(2024, 9, 21, 10, tzinfo=tz),
    )
    carrier_segments_forget()


def uploaded(client, staff, content=LIST, name="customers.csv"):
    client.force_login(staff)
    return client.post(FILES, {"file": SimpleUploadedFile(name, content, content_type="text/csv")})


def checked_file(client, staff, content=LIST) -> BulkCheckFile:
    response = uploaded(client, staff, content)
    assert response.status_code == 302, response.content.decode()[:2000]
    return BulkCheckFile.objects.latest("pk")


def check_all(row) -> BulkCheckFile:
    while services.bulk_check_file_process(file_id=row.pk):
        pass
    row.refresh_from_db()
    return row


def result_rows(response) -> list[list[str]]:
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv"), response
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_upload_progress_and_result_csv_name_every_answer_and_every_bad_row(client):
    staff = platform_staff()
    row = checked_file(client, staff)
    progress = client.get(reverse("staff_bulk_check_file_progress", args=[row.public_id])).json()
    assert (progress["state"], progress["rows_total"], progress["rows_done"], progress["percent"]) == (
        "queued",
        9,
        0,
        0,
    )
    page = client.get(reverse("staff_bulk_check_file", args=[row.public_id])).content.decode()
    assert "upload.js" in page and "<progress" in page and 'http-equiv="refresh"' in page

    row = check_all(row)
    assert (row.state, row.rows_done, row.rows_yes, row.rows_no, row.rows_no_data, row.rows_invalid) == (
        "completed",
        9,
        2,
        1,
        1,
        4,
    )
    progress = client.get(reverse("staff_bulk_check_file_progress", args=[row.public_id])).json()
    assert progress["percent"] == 100 and progress["result_available"]
    assert progress["bad_rows"] == [
        {"row": 7, "reason": "bad_number"},
        {"row": 8, "reason": "bad_date"},
        {"row": 9, "reason": "columns"},
        {"row": 10, "reason": "future_date"},
    ]
    client.cookies["django_language"] = "en"
    page = client.get(reverse("staff_bulk_check_file", args=[row.public_id])).content.decode()
    assert "Download the result" in page and "the date must be YYYY-MM-DD" in page
    assert result_rows(client.get(reverse("staff_bulk_check_file_result", args=[row.public_id]))) == EXPECTED
    assert not Path(settings.BULK_CHECK_FILE_DIR, f"{row.stored_name}.csv").exists()  # the list is gone once checked


def test_answers_agree_with_the_thousand_number_call():
    checks = [
        ("13812345678", datetime(2023, 12, 22).date()),
        ("13812345678", datetime(2024, 9, 21).date()),
        ("13812345678", datetime(2024, 3, 1).date()),
        ("13812345678", datetime(2024, 9, 20).date()),
        ("13812345678", datetime(2024, 2, 25).date()),
        ("13999999999", datetime(2020, 1, 1).date()),
        ("17712345678", datetime(2024, 3, 1).date()),
    ]
    one_by_one = numbers_recycled_since(checks=checks)
    answers = [answer for answer, _reason in selectors.answers_for_checks(checks)]
    assert answers == ["no_data" if r is None else ("yes" if r else "no") for r in one_by_one]


@override_settings(BULK_CHECK_FILE_CHUNK_ROWS=3)
def test_each_checked_row_is_in_the_audit_trail_once_hashed(client, monkeypatch):
    staff = platform_staff()
    row = check_all(checked_file(client, staff))
    monkeypatch.setattr(services, "AUDIT_CHUNK_ROWS", 2)
    assert services.bulk_check_file_audit_process(file_id=row.pk, seconds=0) is True  # a while, then the rest
    while services.bulk_check_file_audit_process(file_id=row.pk):
        pass
    assert services.bulk_check_file_audit_process(file_id=row.pk) is False  # written once
    audit = NumberCheckAudit.objects.filter(api="file")
    assert audit.count() == 4 and {a.organisation_id for a in audit} == {staff.organisation_id}
    assert not audit.filter(phone_hash__contains="138").exists() and audit.first().key_id == f"staff:{staff.pk}"


def test_attack_another_organisations_staff_get_404_for_the_file_and_its_result(client):
    row = check_all(checked_file(client, platform_staff()))
    urls = [
        reverse(name, args=[row.public_id])
        for name in ("staff_bulk_check_file", "staff_bulk_check_file_progress", "staff_bulk_check_file_result")
    ]
    client.force_login(platform_staff())
    assert [client.get(url).status_code for url in urls] == [404, 404, 404]
    assert "customers.csv" not in client.get(FILES).content.decode()
    client.force_login(StaffUserFactory(role="regulator"))
    assert client.get(FILES).status_code == 404 and client.get(urls[2]).status_code == 404


@override_settings(BULK_CHECK_FILE_MAX_BYTES=1024)
def test_attack_oversize_file_is_refused_413_before_its_body_is_read(client):
    client.force_login(platform_staff())

    class Unreadable(io.BytesIO):
        def read(self, *args):
            raise AssertionError("the body was read")

    response = client.generic(
        "POST",
        FILES,
        b"",
        content_type="multipart/form-data; boundary=x",
        **{"CONTENT_LENGTH": str(5 * 2**20), "wsgi.input": Unreadable(b"x" * 10)},
    )
    assert response.status_code == 413
    assert not BulkCheckFile.objects.exists()


@pytest.mark.parametrize(
    "content, code, message",
    [
        (b"\x00PK spreadsheet", "not_text", "not a text file"),
        ("number,date\n13812345678,2024-01-01\n甲".encode("gbk"), "not_utf8", "not UTF-8"),
        (b"phone,when\n13812345678,2024-01-01\n", "columns", "The columns must be number,date"),
        (b"number,date\n", "empty", "no rows to check"),
        (b"", "empty", "empty"),
    ],
)
def test_a_file_that_cannot_be_checked_is_refused_clearly(client, content, code, message):
    client.cookies["django_language"] = "en"
    response = uploaded(client, platform_staff(), content)
    assert response.status_code == 400 and message in response.content.decode()
    assert not BulkCheckFile.objects.exists() and not list(Path(settings.BULK_CHECK_FILE_DIR).glob("*"))


@override_settings(BULK_CHECK_FILE_MAX_ROWS=3)
def test_a_file_over_the_row_limit_is_refused_in_both_languages(client):
    content = b"number,date\n" + b"13812345678,2024-01-01\n" * 4
    client.cookies["django_language"] = "en"
    assert "more than 3 rows" in uploaded(client, platform_staff(), content).content.decode()
    client.cookies["django_language"] = "zh-hans"
    assert "超过 3 行" in uploaded(client, platform_staff(), content).content.decode()
    assert uploaded(client, platform_staff(), b"13812345678,2024-01-01\n" * 4).status_code == 400  # no header: 4 rows
    assert uploaded(client, platform_staff(), b"13812345678,2024-01-01\n" * 3).status_code == 302  # no header: 3 rows


@override_settings(BULK_CHECK_FILES_IN_PROGRESS=1)
def test_an_organisation_checks_a_limited_number_of_files_at_once(client):
    staff = platform_staff()
    checked_file(client, staff)
    client.cookies["django_language"] = "en"
    response = uploaded(client, staff)
    assert response.status_code == 400 and "still being checked" in response.content.decode()


def test_purge_deletes_file_and_result_after_seven_days(client):
    row = check_all(checked_file(client, platform_staff()))
    result = Path(settings.BULK_CHECK_FILE_DIR, f"{row.stored_name}.result")
    assert result.exists() and services.bulk_check_files_purge() == 0
    BulkCheckFile.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert tasks.bulk_check_files_purge() == 1
    row.refresh_from_db()
    assert row.purged_at and not result.exists() and row.rows_yes == 2  # the counts stay
    assert client.get(reverse("staff_bulk_check_file_result", args=[row.public_id])).status_code == 404
    client.cookies["django_language"] = "en"
    assert "were deleted on" in client.get(reverse("staff_bulk_check_file", args=[row.public_id])).content.decode()


def test_a_fresh_file_expires_after_the_retention_period(client):
    row = checked_file(client, platform_staff())
    assert row.expires_at - row.created_at == timedelta(days=7)


@override_settings(BULK_CHECK_FILE_CHUNK_ROWS=3)
def test_a_killed_job_resumes_from_the_committed_chunk_and_writes_no_row_twice(client, monkeypatch):
    row = checked_file(client, platform_staff())
    assert services.bulk_check_file_process(file_id=row.pk, seconds=0) is True  # one chunk, then re-queue
    row.refresh_from_db()
    assert (row.state, row.rows_done) == ("running", 3)

    # The worker dies after writing the next chunk's answers and before its commit.
    def die(*args, **kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(BulkCheckFile, "save", die)
    with pytest.raises(SystemExit):
        services.bulk_check_file_process(file_id=row.pk, seconds=0)
    monkeypatch.undo()
    row.refresh_from_db()
    assert (
        row.rows_done == 3
        and Path(settings.BULK_CHECK_FILE_DIR, f"{row.stored_name}.result").stat().st_size > row.result_bytes
    )

    row = check_all(row)  # the next worker cuts the result back and goes on from the row's position
    assert (row.state, row.rows_done, row.rows_invalid) == ("completed", 9, 4)
    client.cookies["django_language"] = "en"
    assert result_rows(client.get(reverse("staff_bulk_check_file_result", args=[row.public_id]))) == EXPECTED


def test_a_killed_audit_writes_each_row_once(client, monkeypatch):
    row = check_all(checked_file(client, platform_staff()))
    monkeypatch.setattr(services, "AUDIT_CHUNK_ROWS", 2)
    original = services._audit_copy
    calls = []

    def die_on_second(*args):
        calls.append(1)
        if len(calls) == 2:
            original(*args)  # written, then the worker dies before the position commits
            raise SystemExit("worker killed")
        return original(*args)

    monkeypatch.setattr(services, "_audit_copy", die_on_second)
    with pytest.raises(SystemExit):
        services.bulk_check_file_audit_process(file_id=row.pk)
    monkeypatch.setattr(services, "_audit_copy", original)
    services.bulk_check_file_audit_process(file_id=row.pk)
    assert NumberCheckAudit.objects.filter(api="file").count() == 4


def test_a_stuck_job_is_queued_again_by_the_sweeper(client, monkeypatch):
    row = checked_file(client, platform_staff())
    sent, audits = [], []
    queued = {"portal.bulk_check_file_run": sent, "portal.bulk_check_file_audit": audits}
    monkeypatch.setattr(enqueue, "send", lambda task, args, **_: queued[task].append(*args))
    assert tasks.bulk_check_files_sweep() == 0
    BulkCheckFile.objects.filter(pk=row.pk).update(progress_at=timezone.now() - timedelta(minutes=5))
    assert tasks.bulk_check_files_sweep() == 1 and sent == [row.pk]
    check_all(row)  # checked, its audit trail not written yet
    BulkCheckFile.objects.filter(pk=row.pk).update(progress_at=timezone.now() - timedelta(minutes=5))
    assert tasks.bulk_check_files_sweep() == 1 and audits == [row.pk]


def test_beat_runs_the_sweeper_and_the_purge():
    names = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"portal.bulk_check_files_sweep", "portal.bulk_check_files_purge"} <= names
    assert tasks.bulk_check_file_run.name == "portal.bulk_check_file_run"


# --- The API: OAuth client credentials, as CAMARA ------------------------------------------------------------


def member_token(client, organisation=None) -> str:
    integration = IntegrationFactory(app__organisation=organisation or OrganisationFactory(kind="internet_platform"))
    key, secret = registry_services.integration_key_issue(integration=integration, by=None)
    response = client.post(
        "/oauth/token",
        {
            "grant_type": "client_credentials",
            "client_id": key.key_id,
            "client_secret": secret,
            "scope": "number-recycling:check",
        },
    )
    return response.json()["access_token"]


def test_api_upload_as_text_csv_status_and_result(client):
    token = member_token(client)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    response = client.generic("POST", API, LIST, content_type="text/csv", **auth)
    assert response.status_code == 202, response.content
    body = response.json()
    assert response["Location"] == body["status_url"] and body["state"] == "queued" and body["rows_total"] == 9
    check_all(BulkCheckFile.objects.get(public_id=body["id"]))
    status = client.get(body["status_url"], **auth).json()
    assert (status["state"], status["rows_yes"], status["rows_invalid"], status["result_available"]) == (
        "completed",
        2,
        4,
        True,
    )
    assert result_rows(client.get(body["result_url"], HTTP_ACCEPT_LANGUAGE="en", **auth)) == EXPECTED
    assert BulkCheckFile.objects.get(public_id=body["id"]).via == "api"


def test_api_upload_as_multipart_and_the_result_waits_for_the_check(client):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {member_token(client)}"}
    response = client.post(API, {"file": SimpleUploadedFile("list.csv", LIST, content_type="text/csv")}, **auth)
    assert response.status_code == 202, response.content
    result = client.get(response.json()["result_url"], **auth)
    assert result.status_code == 409 and result.json()["code"] == "not_ready"


def test_api_refusals_have_the_portal_shape(client):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {member_token(client)}"}
    assert client.post(API, LIST, content_type="text/csv").status_code == 401
    assert client.post(API, LIST, content_type="text/csv", HTTP_AUTHORIZATION="Bearer nope").status_code == 401
    refused = client.post(API, json.dumps({"checks": []}), content_type="application/json", **auth)
    assert refused.status_code == 415 and refused.json()["code"] == "unsupported_media_type"
    bad = client.generic("POST", API, b"\x00\x01", content_type="text/csv", **auth)
    assert bad.status_code == 400 and bad.json()["code"] == "not_text"
    with override_settings(BULK_CHECK_FILE_MAX_BYTES=100):
        too_big = client.generic("POST", API, LIST * 2, content_type="text/csv", **auth)
    assert too_big.status_code == 413 and too_big.json()["code"] == "too_large"


def test_attack_api_client_of_another_organisation_gets_404(client):
    mine = {"HTTP_AUTHORIZATION": f"Bearer {member_token(client)}"}
    body = client.generic("POST", API, LIST, content_type="text/csv", **mine).json()
    theirs = {"HTTP_AUTHORIZATION": f"Bearer {member_token(client)}"}
    assert client.get(body["status_url"], **theirs).status_code == 404
    assert client.get(body["result_url"], **theirs).status_code == 404


def test_the_schema_documents_the_file_api_and_its_statuses(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    upload = schema["paths"]["/api/v1/platform/number-check-files"]["post"]
    assert set(upload["responses"]) == {"202", "400", "401", "403", "411", "413", "415", "429"}
    assert set(upload["requestBody"]["content"]) == {"multipart/form-data", "text/csv"}
    result = schema["paths"]["/api/v1/platform/number-check-files/{public_id}/result"]["get"]
    assert {"200", "401", "403", "404", "409", "410"} <= set(result["responses"]) and "text/csv" in result["responses"][
        "200"
    ]["content"]


@pytest.mark.worker
def test_a_real_worker_checks_the_file_while_the_page_follows(client, celery_workers):
    celery_workers.start("bulkcheck")
    celery_workers.wait_until_ready(1)
    row = checked_file(client, platform_staff())
    progress_url = reverse("staff_bulk_check_file_progress", args=[row.public_id])
    for _ in range(300):
        progress = client.get(progress_url).json()
        if progress["done"]:
            break
        time.sleep(0.3)
    assert (progress["state"], progress["rows_yes"], progress["rows_invalid"]) == ("completed", 2, 4), progress
    for _ in range(300):  # then the worker writes the audit trail
        if NumberCheckAudit.objects.filter(api="file").count() == 4:
            break
        time.sleep(0.3)
    assert NumberCheckAudit.objects.filter(api="file").count() == 4
