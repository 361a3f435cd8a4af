"""Helpers for complaint tests: a holder who proved their number, tiny valid evidence files, signed calls."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from registry import services as registry_services
from tests.portal.lookup.helpers import latest_code
from tests.registry.factories import IntegrationFactory, MemberAppFactory
from tests.signing import signed_request

PHONE = "13800138000"


def prove_number(client, phone=PHONE):
    """Walk the holder through the picture check and the SMS code; the browser may then file."""
    response = client.post("/complaints/new/", {"phone_number": phone, "captcha_0": "x", "captcha_1": "passed"})
    assert response.status_code == 200, response.content[:500]
    response = client.post("/complaints/verify/", {"phone_number": phone, "code": latest_code()})
    assert response.status_code == 302 and response["Location"].endswith("/complaints/new/details/")


def png_file(name="screenshot.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(buffer, format="JPEG")
    return buffer.getvalue()


def pdf_file(name="bill.pdf") -> SimpleUploadedFile:
    body = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    return SimpleUploadedFile(name, body, content_type="application/pdf")


def complaint_data(app, **overrides) -> dict:
    data = {
        "category": "debt_collection",
        "app": app.pk if app else "",
        "respondent_name": "",
        "carrier": "",
        "province": "44",
        "city": "深圳",
        "started_on": "2026-03-01",
        "description": "自从三月拿到这个号码，每天收到催收短信，收件人是王先生。",
        "desired_outcome": "解绑旧账号，停止催收。",
        "email": "",
        "consent_to_share": "on",
    }
    data.update(overrides)
    return data


def member_system(organisation):
    """A signing key for the organisation's system, for the platform API."""
    integration = IntegrationFactory(app=MemberAppFactory(organisation=organisation))
    key, secret = registry_services.integration_key_issue(integration=integration, by=None)
    return key, secret


def api_get(client, target, key, secret):
    return signed_request(client, "get", target, key_id=key.key_id, secret=secret)


def api_post(client, target, payload, key, secret):
    return signed_request(client, "post", target, payload, key_id=key.key_id, secret=secret)
