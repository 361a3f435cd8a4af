import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings

from portal.sms.models import SmsMessage
from portal.sms.services import SmsRetry, sms_deliver_now, sms_send
from registry.models import StaffUser
from tests.registry.factories import StaffUserFactory, platform_staff


@pytest.mark.worker
def test_a_message_is_delivered_by_a_real_worker_and_shows_in_the_outbox(celery_workers, client, capsys):
    celery_workers.start("sms")
    celery_workers.wait_until_ready(1)
    with transaction.atomic():
        message = sms_send(
            phone_number="+86 138 1234 5678",
            text="【码号服务】验证码 246810，5 分钟内有效。",
            purpose="verification_code",
        )

    for _ in range(100):
        message.refresh_from_db()
        if message.status != "queued":
            break
        time.sleep(0.1)
    assert message.status == "sent" and message.attempts == 1

    call_command("sms_outbox")
    printed = capsys.readouterr().out
    assert "138****5678" in printed and "246810" in printed and "13812345678" not in printed

    client.force_login(StaffUserFactory(role=StaffUser.Role.ADMINISTRATOR))
    page = client.get("/staff/sms-outbox/").content.decode()
    assert "138****5678" in page and "246810" in page and "13812345678" not in page


@pytest.mark.django_db
def test_only_administrators_see_the_outbox(client):
    client.force_login(platform_staff())
    assert client.get("/staff/sms-outbox/").status_code == 404


class FlakyProvider(BaseHTTPRequestHandler):
    answers: list = []
    received: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FlakyProvider.received.append((self.headers["Authorization"], body))
        status, payload = FlakyProvider.answers.pop(0)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(payload).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def provider():
    server = HTTPServer(("127.0.0.1", 0), FlakyProvider)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FlakyProvider.received = []
    yield server
    server.shutdown()


@pytest.mark.django_db
def test_http_provider_that_fails_once_is_retried_and_the_message_is_kept(provider):
    FlakyProvider.answers = [(503, {"error": "busy"}), (200, {"id": "prov-42"})]
    url = f"http://127.0.0.1:{provider.server_port}/send"
    with override_settings(SMS_BACKEND="portal.sms.backends.HttpBackend", SMS_HTTP_URL=url, SMS_HTTP_TOKEN="t0ken"):
        message = SmsMessage.objects.create(phone_number="13812345678", text="hello")
        with pytest.raises(SmsRetry):
            sms_deliver_now(message_id=message.pk, final_attempt=False)
        message.refresh_from_db()
        assert message.status == "queued" and "503" in message.last_error

        sms_deliver_now(message_id=message.pk, final_attempt=False)

    message.refresh_from_db()
    assert (message.status, message.provider_id, message.attempts) == ("sent", "prov-42", 2)
    assert FlakyProvider.received[-1] == (
        "Bearer t0ken",
        {"to": "+8613812345678", "text": "hello", "reference": str(message.pk)},
    )
    # Idempotent: delivering again sends nothing more.
    sms_deliver_now(message_id=message.pk, final_attempt=False)
    assert len(FlakyProvider.received) == 2


@pytest.mark.django_db
def test_after_the_last_try_the_message_is_marked_failed_with_the_reason(provider):
    FlakyProvider.answers = [(200, {"no": "id"})]
    url = f"http://127.0.0.1:{provider.server_port}/send"
    with override_settings(SMS_BACKEND="portal.sms.backends.HttpBackend", SMS_HTTP_URL=url):
        message = SmsMessage.objects.create(phone_number="13812345678", text="hello")
        sms_deliver_now(message_id=message.pk, final_attempt=True)
    message.refresh_from_db()
    assert message.status == "failed" and "without an id" in message.last_error


CODE_TEXT = "【码号服务】验证码 246810，5 分钟内有效。请勿告诉他人。/ Code 246810, valid 5 min."


@pytest.mark.django_db
def test_attack_code_read_from_the_database_is_redacted_once_the_provider_has_it(provider):
    """Whoever reads the SMS table (a backup, a staff query, the admin) must not find live codes."""
    FlakyProvider.answers = [(200, {"id": "prov-7"})]
    url = f"http://127.0.0.1:{provider.server_port}/send"
    with override_settings(SMS_BACKEND="portal.sms.backends.HttpBackend", SMS_HTTP_URL=url):
        message = SmsMessage.objects.create(phone_number="13812345678", text=CODE_TEXT, purpose="verification_code")
        sms_deliver_now(message_id=message.pk, final_attempt=False)
    assert FlakyProvider.received[-1][1]["text"] == CODE_TEXT  # the holder gets the code
    message.refresh_from_db()
    assert message.status == "sent" and "246810" not in message.text
    assert message.text == "【码号服务】验证码 ******，5 分钟内有效。请勿告诉他人。/ Code ******, valid 5 min."


@pytest.mark.django_db
def test_attack_code_quoted_in_a_provider_error_is_redacted_and_a_retry_still_sends_it(provider):
    FlakyProvider.answers = [(400, {"error": f"rejected: {CODE_TEXT}"}), (200, {"id": "prov-8"})]
    url = f"http://127.0.0.1:{provider.server_port}/send"
    with override_settings(SMS_BACKEND="portal.sms.backends.HttpBackend", SMS_HTTP_URL=url):
        message = SmsMessage.objects.create(phone_number="13812345678", text=CODE_TEXT, purpose="verification_code")
        with pytest.raises(SmsRetry) as retry:
            sms_deliver_now(message_id=message.pk, final_attempt=False)
        message.refresh_from_db()
        assert (
            "246810" not in message.last_error and "246810" not in str(retry.value) and "HTTP 400" in message.last_error
        )
        assert message.text == CODE_TEXT  # kept for the next try
        sms_deliver_now(message_id=message.pk, final_attempt=False)
    assert FlakyProvider.received[-1][1]["text"] == CODE_TEXT
    message.refresh_from_db()
    assert message.status == "sent" and "246810" not in message.text


@pytest.mark.django_db
def test_a_code_that_could_not_be_sent_is_redacted_when_delivery_gives_up(provider):
    FlakyProvider.answers = [(503, {"error": "busy"})]
    url = f"http://127.0.0.1:{provider.server_port}/send"
    with override_settings(SMS_BACKEND="portal.sms.backends.HttpBackend", SMS_HTTP_URL=url):
        message = SmsMessage.objects.create(phone_number="13812345678", text=CODE_TEXT, purpose="verification_code")
        sms_deliver_now(message_id=message.pk, final_attempt=True)
    message.refresh_from_db()
    assert message.status == "failed" and "246810" not in message.text


@pytest.mark.django_db
def test_other_messages_keep_their_text_after_the_provider_took_them(provider):
    FlakyProvider.answers = [(200, {"id": "prov-9"})]
    url = f"http://127.0.0.1:{provider.server_port}/send"
    text = "【码号服务】您的投诉 TS202605010001 已受理。"
    with override_settings(SMS_BACKEND="portal.sms.backends.HttpBackend", SMS_HTTP_URL=url):
        message = SmsMessage.objects.create(phone_number="13812345678", text=text, purpose="complaint")
        sms_deliver_now(message_id=message.pk, final_attempt=False)
    message.refresh_from_db()
    assert message.text == text


@pytest.mark.django_db
def test_the_development_outbox_still_shows_a_newcomer_the_code(capsys):
    message = SmsMessage.objects.create(phone_number="13812345678", text=CODE_TEXT, purpose="verification_code")
    sms_deliver_now(message_id=message.pk, final_attempt=False)
    message.refresh_from_db()
    assert message.status == "sent" and message.text == CODE_TEXT
    call_command("sms_outbox")
    assert "246810" in capsys.readouterr().out
