"""The carrier console's monthly CSV file: read in the background through the same check and insert as
the API, with a live progress bar and a downloadable list of rejected rows."""

import csv
import io
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from portal.core import enqueue
from portal.recycling import services
from portal.recycling.models import (
    NumberEvent,
    NumberEventUpload,
    NumberEventUploadRejection,
)
from portal.recycling.uploads import (
    number_event_upload_process,
    number_event_uploads_sweep,
)
from registry.models import StaffUser
from tests.registry.factories import (
    OrganisationFactory,
    StaffUserFactory,
    platform_staff,
)

pytestmark = pytest.mark.django_db
UPLOADS = reverse("staff_number_event_uploads")

# A BOM, a header in its own order, three good rows, a blank line and four bad ones.
MONTHLY_FILE = (
    "\ufeffphone_number,event_id,occurred_at,type\r\n"
    "13800138000,may-1,2026-01-10T09:30:00+08:00,cancelled\r\n"
    "+86 139 0013 9000,may-2,2026-02-01T10:00:00+08:00,cancelled\r\n"
    "13800138000,may-3,2026-05-02T14:00:00+08:00,reassigned\r\n"
    "\r\n"
    "12345,may-4,2026-05-02T14:00:00+08:00,cancelled\r\n"
    "13700137000,may-5,2026-05-02T14:00:00+08:00,stolen\r\n"
    "13700137000,may-6,last tuesday,cancelled\r\n"
    "13700137000,may-7\r\n"
).encode("utf-8")


@pytest.fixture(autouse=True)
def upload_dir(request, settings, tmp_path):
    """Each test keeps its files to itself (a real worker reads the configured folder, in its own process)."""
    if "celery_workers" not in request.fixturenames:
        settings.NUMBER_EVENT_UPLOAD_DIR = tmp_path / "uploads"
    return settings.NUMBER_EVENT_UPLOAD_DIR


def carrier_staff(carrier=None) -> StaffUser:
    carrier = carrier or OrganisationFactory(kind="basic_carrier")
    return StaffUserFactory(role=StaffUser.Role.CARRIER_STAFF, organisation=carrier)


def upload(client, content: bytes, name="2026-05.csv"):
    return client.post(UPLOADS, {"file": SimpleUploadedFile(name, content, content_type="text/csv")})


def uploaded(client, staff, content=MONTHLY_FILE) -> NumberEventUpload:
    client.force_login(staff)
    response = upload(client, content)
    assert response.status_code == 302, response.content.decode()[:2000]
    return NumberEventUpload.objects.latest("pk")


def read_all(upload_row) -> NumberEventUpload:
    while number_event_upload_process(upload_id=upload_row.pk):
        pass
    upload_row.refresh_from_db()
    return upload_row


def rejected_rows(client, upload_row) -> list[list[str]]:
    client.cookies["django_language"] = "en"
    response = client.get(reverse("staff_number_event_upload_rejected", args=[upload_row.pk]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")  # spreadsheets then read the Chinese reasons as UTF-8
    return list(csv.reader(io.StringIO(text[1:])))


def test_good_rows_are_stored_once_and_bad_rows_listed_with_line_and_reason(client):
    staff = carrier_staff()
    row = read_all(uploaded(client, staff))
    assert (row.state, row.rows_read, row.rows_accepted, row.rows_rejected, row.rows_duplicate) == (
        "completed",
        7,
        3,
        4,
        0,
    )
    assert sorted(NumberEvent.objects.filter(carrier=staff.organisation).values_list("event_id", flat=True)) == [
        "may-1",
        "may-2",
        "may-3",
    ]
    assert NumberEvent.objects.get(event_id="may-2").phone_number == "13900139000"
    assert not (Path(settings.NUMBER_EVENT_UPLOAD_DIR) / row.stored_name).exists()  # read, then deleted

    page = client.get(reverse("staff_number_event_upload", args=[row.pk])).content.decode()
    assert reverse("staff_number_event_upload_rejected", args=[row.pk]) in page
    listed = rejected_rows(client, row)
    assert listed[0] == ["line", "reason", "event_id", "phone_number", "type", "occurred_at"]
    by_line = {int(r[0]): r for r in listed[1:]}
    assert sorted(by_line) == [6, 7, 8, 9]  # the lines in the file (the header is line 1, line 5 is blank)
    assert by_line[6][1].startswith("phone_number is not a mainland mobile number") and by_line[6][2:] == [
        "may-4",
        "12345",
        "cancelled",
        "2026-05-02T14:00:00+08:00",
    ]
    assert by_line[7][1].startswith("type must be one of cancelled, reassigned")
    assert by_line[8][1].startswith("occurred_at must be an ISO 8601 time")
    assert by_line[9][1] == "expected 4 columns (event_id, phone_number, type, occurred_at), found 2"


def test_the_same_file_uploaded_again_stores_nothing_twice(client):
    staff = carrier_staff()
    read_all(uploaded(client, staff))
    again = read_all(uploaded(client, staff))
    assert (again.rows_accepted, again.rows_duplicate, again.rows_rejected) == (0, 3, 4)
    assert NumberEvent.objects.filter(carrier=staff.organisation).count() == 3
    history = client.get(UPLOADS).content.decode()
    assert history.count("2026-05.csv") == 2


def test_events_the_api_already_sent_are_duplicates_in_a_file(client):
    staff = carrier_staff()
    services.number_events_ingest(
        carrier=staff.organisation,
        events=[
            {
                "event_id": "may-1",
                "phone_number": "13800138000",
                "type": "cancelled",
                "occurred_at": "2026-01-10T09:30:00+08:00",
            }
        ],
    )
    row = read_all(uploaded(client, staff))
    assert (row.rows_accepted, row.rows_duplicate) == (2, 1)


def test_a_file_without_header_takes_the_documented_column_order(client):
    content = (
        b"a1,13800138000,cancelled,2026-01-10T09:30:00+08:00\na2,13800138000,reassigned,2026-03-01T09:30:00+08:00\n"
    )
    row = read_all(uploaded(client, carrier_staff(), content))
    assert (row.rows_read, row.rows_accepted, row.freeze_breaches) == (2, 2, 1)  # 50 days after cancellation


@override_settings(NUMBER_EVENT_UPLOAD_CHUNK_ROWS=2)
def test_reading_resumes_where_the_last_committed_chunk_ended(client, monkeypatch):
    staff = carrier_staff()
    row = uploaded(client, staff)
    assert number_event_upload_process(upload_id=row.pk, seconds=0) is True  # one chunk, then re-queue
    row.refresh_from_db()
    assert (row.state, row.rows_read) == ("running", 2)

    # A worker dies in the middle of the next chunk: nothing of that chunk is kept.
    original = NumberEventUploadRejection.objects.bulk_create

    def die(*args, **kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(NumberEventUploadRejection.objects, "bulk_create", die)
    with pytest.raises(SystemExit):
        number_event_upload_process(upload_id=row.pk, seconds=0)
    monkeypatch.setattr(NumberEventUploadRejection.objects, "bulk_create", original)
    row.refresh_from_db()
    assert row.rows_read == 2 and NumberEvent.objects.filter(carrier=staff.organisation).count() == 2

    row = read_all(row)  # the next worker goes on from the row's position
    assert (row.state, row.rows_read, row.rows_accepted, row.rows_rejected, row.rows_duplicate) == (
        "completed",
        7,
        3,
        4,
        0,
    )
    assert NumberEventUploadRejection.objects.filter(upload=row).count() == 4


def test_the_progress_endpoint_and_page_show_the_counts(client):
    row = uploaded(client, carrier_staff())
    progress = client.get(reverse("staff_number_event_upload_progress", args=[row.pk])).json()
    assert (progress["state"], progress["done"], progress["rows_read"]) == ("queued", False, 0)
    page = client.get(reverse("staff_number_event_upload", args=[row.pk])).content.decode()
    assert 'http-equiv="refresh"' in page and "upload.js" in page  # refreshes itself without JavaScript
    read_all(row)
    progress = client.get(reverse("staff_number_event_upload_progress", args=[row.pk])).json()
    assert (progress["done"], progress["percent"], progress["rows_accepted"], progress["rows_rejected"]) == (
        True,
        100,
        3,
        4,
    )
    assert (
        'http-equiv="refresh"' not in client.get(reverse("staff_number_event_upload", args=[row.pk])).content.decode()
    )


def test_another_carriers_staff_get_404_and_administrators_see_everything(client):
    staff = carrier_staff()
    row = read_all(uploaded(client, staff))
    pages = [
        reverse(name, args=[row.pk])
        for name in (
            "staff_number_event_upload",
            "staff_number_event_upload_progress",
            "staff_number_event_upload_rejected",
        )
    ]

    client.force_login(carrier_staff())
    assert [client.get(url).status_code for url in pages] == [404, 404, 404]
    assert "2026-05.csv" not in client.get(UPLOADS).content.decode()

    client.force_login(platform_staff())
    assert client.get(UPLOADS).status_code == 404
    assert [client.get(url).status_code for url in pages] == [404, 404, 404]

    client.force_login(StaffUserFactory(role=StaffUser.Role.ADMINISTRATOR))
    assert [client.get(url).status_code for url in pages] == [200, 200, 200]
    history = client.get(UPLOADS)
    assert "2026-05.csv" in history.content.decode() and history.context["form"] is None  # administrators do not upload


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("events.xlsx", b"PK\x03\x04 a spreadsheet", "Choose a CSV file"),
        ("events.csv", b"PK\x03\x04\x00\x00 a spreadsheet renamed", "This is not a text file"),
        (
            "events.csv",
            "event_id,phone_number,type,occurred_at\r\n甲,13800138000,cancelled,2026-01-10T09:30:00+08:00\r\n".encode(
                "gbk"
            ),
            "not UTF-8",
        ),
        (
            "events.csv",
            b"id,number,kind,date\n1,13800138000,cancelled,2026-01-10T09:30:00+08:00\n",
            "The columns must be event_id, phone_number, type, occurred_at",
        ),
        ("events.csv", b"1,13800138000,cancelled\n", "The columns must be"),
        ("events.csv", b"", "empty"),
    ],
)
def test_a_file_that_is_no_csv_of_events_is_refused_clearly_and_the_page_still_works(client, name, content, message):
    client.force_login(carrier_staff())
    client.cookies["django_language"] = "en"
    response = upload(client, content, name=name)
    assert response.status_code == 400
    assert message in response.content.decode().replace("&quot;", '"').replace("&#x27;", "'")
    assert 'enctype="multipart/form-data"' in response.content.decode()  # the form is there to try again
    assert not NumberEventUpload.objects.exists()


@override_settings(NUMBER_EVENT_UPLOAD_MAX_BYTES=100)
def test_a_file_too_big_is_refused_with_the_limit(client):
    client.force_login(carrier_staff())
    client.cookies["django_language"] = "en"
    response = upload(client, MONTHLY_FILE)
    assert response.status_code == 400 and "at most 100" in response.content.decode()
    assert not NumberEventUpload.objects.exists() and not list(Path(settings.NUMBER_EVENT_UPLOAD_DIR).glob("*"))


def test_stuck_uploads_are_queued_again_by_the_sweeper(client, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    row = uploaded(client, carrier_staff())
    sent = []
    monkeypatch.setattr(enqueue, "send", lambda task, args, **_: sent.append((task, *args)))
    assert number_event_uploads_sweep() == 0
    NumberEventUpload.objects.filter(pk=row.pk).update(progress_at=timezone.now() - timedelta(minutes=5))
    assert number_event_uploads_sweep() == 1 and sent == [("portal.tasks.number_event_upload_run", row.pk)]


@pytest.mark.worker
def test_a_real_worker_reads_the_file_while_the_page_follows(client, celery_workers):
    celery_workers.start("uploads")
    celery_workers.wait_until_ready(1)
    staff = carrier_staff()
    row = uploaded(client, staff)
    progress_url = reverse("staff_number_event_upload_progress", args=[row.pk])
    for _ in range(150):
        progress = client.get(progress_url).json()
        if progress["done"]:
            break
        time.sleep(0.2)
    assert (progress["state"], progress["rows_accepted"], progress["rows_rejected"]) == ("completed", 3, 4), progress
    assert NumberEvent.objects.filter(carrier=staff.organisation).count() == 3
    assert len(rejected_rows(client, row)) == 5


def test_in_development_the_demo_carrier_file_can_be_downloaded_and_uploaded(client, settings):
    from portal.devtools.demo import demo_carrier_file_rows

    staff = carrier_staff()
    client.force_login(staff)
    assert client.get(reverse("staff_number_event_demo_file")).status_code == 404  # not in production
    settings.DEBUG = True
    response = client.get(reverse("staff_number_event_demo_file"))
    content = b"".join(response.streaming_content)
    assert response.status_code == 200 and content.startswith(b"event_id,phone_number,type,occurred_at")
    row = read_all(uploaded(client, staff, content))
    bad = sum(
        1 for r in list(demo_carrier_file_rows())[1:] if len(r) != 4 or len(r[1]) != 11 or r[2] == "sold" or "/" in r[3]
    )
    assert (
        row.rows_read == 2000
        and row.rows_rejected == bad > 0
        and row.rows_accepted == 2000 - bad
        and row.freeze_breaches > 0
    )
