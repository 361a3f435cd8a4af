"""Upload limits hold before a body is read or spooled: an oversized Content-Length gets 413 without the
body being read, a file past its cap is dropped at the cap (never spooled further) and named on the form,
which keeps what was typed, and a body without a length is refused where files are expected."""

import re
import socket

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import FileUploadHandler

from complaints.models import Complaint
from tests.complaints.helpers import complaint_data, prove_number
from tests.portal.recycling.test_number_event_uploads import carrier_staff
from tests.registry.factories import MemberAppFactory

pytestmark = pytest.mark.django_db
MB = 1024 * 1024


class RecordingHandler(FileUploadHandler):
    """Stands after the limiting handler (where Django's memory and disk handlers are) and counts what reaches it."""

    seen: list[int] = []

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        RecordingHandler.seen.append(0)

    def receive_data_chunk(self, raw_data, start):
        RecordingHandler.seen[-1] += len(raw_data)
        return raw_data

    def file_complete(self, file_size):
        return None


@pytest.fixture
def spooled(settings, tmp_path):
    """Uploads spool into tmp_path; the recording handler stands where the spooling starts."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    handlers = list(settings.FILE_UPLOAD_HANDLERS)
    settings.FILE_UPLOAD_HANDLERS = [
        handlers[0],
        "tests.portal.core.test_upload_limits.RecordingHandler",
        *handlers[1:],
    ]
    RecordingHandler.seen = []
    return tmp_path


def raw_request(live_server, head: str, body: bytes = b"") -> tuple[int, str]:
    """Send the request line and headers (and only `body` of whatever they announce); read the answer as it
    comes (the test server would wait for the rest of the body before closing; the answer is sent first)."""
    host, port = live_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += conn.recv(65536)
        headers, _, content = answer.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: *(\d+)", headers).group(1))
        while len(content) < length:
            content += conn.recv(65536)
    return int(headers.split(b" ", 2)[1]), (headers + b"\r\n\r\n" + content).decode("utf-8", "replace")


def test_attack_oversized_upload_is_refused_before_its_body_is_read(live_server, spooled):
    # 60 MB announced (over 5 files of 10 MB), a few bytes sent: the answer comes without waiting for the rest
    status, answer = raw_request(
        live_server,
        (
            "POST /complaints/new/details/ HTTP/1.1\nHost: localhost\n"
            "Content-Type: multipart/form-data; boundary=x\nContent-Length: 62914560\n"
        ),
        b"--x\r\n",
    )
    assert status == 413
    assert "您提交的内容超过了允许的大小（每次最多 51.0" in answer  # pages speak Chinese first
    assert RecordingHandler.seen == [] and list(spooled.iterdir()) == []


def test_attack_evidence_file_over_its_cap_is_dropped_at_the_cap_and_the_form_keeps_the_rest(client, settings, spooled):
    settings.COMPLAINT_EVIDENCE_MAX_BYTES = 3 * MB
    app = MemberAppFactory()
    prove_number(client)
    big = SimpleUploadedFile("video.pdf", b"%PDF-1.4\n" + b"0" * (5 * MB), content_type="application/pdf")
    response = client.post(
        "/complaints/new/details/", complaint_data(app, description="每天收到催收短信，收件人不是我。", evidence=[big])
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "“video.pdf”" in page and "3 MB" in page
    assert "每天收到催收短信，收件人不是我。" in page  # what the holder typed is kept
    assert RecordingHandler.seen and max(RecordingHandler.seen) <= 3 * MB  # nothing past the cap was spooled
    assert list(spooled.iterdir()) == []  # and what was spooled is gone
    assert not Complaint.objects.exists()


def test_attack_carrier_file_over_the_limit_gets_413_without_being_spooled(client, settings, spooled):
    settings.NUMBER_EVENT_UPLOAD_MAX_BYTES = 1 * MB
    client.force_login(carrier_staff())
    client.cookies["django_language"] = "en"
    response = client.post(
        "/staff/number-events/uploads/", {"file": SimpleUploadedFile("2026-05.csv", b"1" * (3 * MB))}
    )
    assert (
        response.status_code == 413 and "larger than we accept (at most 2.0\xa0MB at once)" in response.content.decode()
    )
    assert RecordingHandler.seen == [] and list(spooled.iterdir()) == []


def test_attack_chunked_upload_without_a_length_is_refused(live_server, spooled):
    status, _answer = raw_request(
        live_server,
        (
            "POST /staff/number-events/uploads/ HTTP/1.1\nHost: localhost\n"
            "Content-Type: multipart/form-data; boundary=x\nTransfer-Encoding: chunked\n"
        ),
        b"5\r\n--x\r\n\r\n0\r\n\r\n",
    )
    assert status == 411
    assert RecordingHandler.seen == [] and list(spooled.iterdir()) == []


def test_attack_oversized_body_to_the_api_gets_413_in_the_api_shape(client, settings):
    response = client.post(
        "/api/v1/carrier/number-events",
        b"{" + b" " * (settings.REQUEST_BODY_MAX_BYTES + 1) + b"}",
        content_type="application/json",
    )
    assert response.status_code == 413 and response.json()["code"] == "too_large"


def test_file_inputs_tell_the_browser_their_limit(client, settings):
    client.force_login(carrier_staff())
    page = client.get("/staff/number-events/uploads/").content.decode()
    assert f'data-max-bytes="{settings.NUMBER_EVENT_UPLOAD_MAX_BYTES}"' in page and "js/upload-limits.js" in page
