"""A holder proves the number, files a complaint with evidence, gets a reference and follows it."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from complaints.models import Complaint
from portal.sms.models import SmsMessage
from portal.unbinding import services as portal_services
from portal.verification.models import VerificationCode
from tests.complaints.helpers import (
    PHONE,
    complaint_data,
    jpeg_bytes,
    pdf_file,
    png_file,
    prove_number,
)
from tests.portal.lookup.helpers import latest_code
from tests.registry.factories import MemberAppFactory, OrganisationFactory

pytestmark = pytest.mark.django_db


def test_the_form_needs_a_proven_number_first(client):
    response = client.get("/complaints/new/details/")
    assert response.status_code == 302 and response["Location"].endswith("/complaints/new/")


def test_a_holder_files_with_evidence_and_the_platform_is_sent_the_case(client):
    app = MemberAppFactory()
    prove_number(client)
    response = client.post("/complaints/new/details/", complaint_data(app, evidence=[png_file(), pdf_file()]))
    assert response.status_code == 302
    complaint = Complaint.objects.get()
    assert re.fullmatch(r"TS\d{8}-0001", complaint.reference)
    assert response["Location"].endswith(f"/complaints/{complaint.reference}/")

    # A member app's case that is not a duplicate goes to the platform at once, with its deadlines.
    assert complaint.state == Complaint.State.SENT
    assert complaint.organisation == app.organisation
    assert (complaint.answer_due_at - complaint.sent_at).days == 15
    assert (complaint.final_due_at - complaint.sent_at).days == 60

    # The number is stored encrypted; the evidence outside the web root, typed by content.
    assert PHONE not in complaint.phone_encrypted and complaint.phone_number == PHONE
    types = sorted(complaint.evidence.values_list("content_type", flat=True))
    assert types == ["application/pdf", "image/png"]
    stored = Path(complaint.evidence.first().file.path)
    assert stored.is_file() and stored.is_relative_to(Path(settings.COMPLAINT_EVIDENCE_DIR).resolve())
    assert not str(stored).startswith(str(settings.STATIC_ROOT))

    # The reference reaches the holder by SMS and on screen; the number is masked on screen.
    texts = list(SmsMessage.objects.filter(purpose="complaint").values_list("text", flat=True))
    assert any(complaint.reference in text for text in texts)
    page = client.get(response["Location"]).content.decode()
    assert complaint.reference in page and "138****8000" in page and PHONE not in page
    assert "也已通过短信发给您" in page


def test_a_file_that_claims_to_be_a_jpeg_but_is_not_is_refused_and_the_form_is_kept(client):
    app = MemberAppFactory()
    prove_number(client)
    fake = SimpleUploadedFile("photo.jpg", b"MZ\x90\x00 this is a program, not a photo", content_type="image/jpeg")
    data = complaint_data(app, description="每天收到催收短信，收件人不是我。", evidence=[fake])
    response = client.post("/complaints/new/details/", data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "photo.jpg" in page and ("JPEG" in page)
    assert "每天收到催收短信，收件人不是我。" in page  # what the holder typed is still there
    assert 'value="44" selected' in page or 'value="44" selected>' in page
    assert not Complaint.objects.exists()

    # A truncated JPEG (right first bytes, broken body) is refused too; a real one is taken.
    broken = SimpleUploadedFile("broken.jpg", jpeg_bytes()[:20], content_type="image/jpeg")
    assert client.post("/complaints/new/details/", complaint_data(app, evidence=[broken])).status_code == 400
    good = SimpleUploadedFile("photo.jpg", jpeg_bytes(), content_type="application/octet-stream")
    assert client.post("/complaints/new/details/", complaint_data(app, evidence=[good])).status_code == 302
    assert Complaint.objects.get().evidence.get().content_type == "image/jpeg"


def test_at_most_five_files_and_a_respondent_is_required(client):
    app = MemberAppFactory()
    prove_number(client)
    response = client.post(
        "/complaints/new/details/", complaint_data(app, evidence=[png_file(f"{i}.png") for i in range(6)])
    )
    assert response.status_code == 400 and "5" in response.content.decode()
    response = client.post("/complaints/new/details/", complaint_data(None))
    assert response.status_code == 400
    assert not Complaint.objects.exists()


def test_a_non_member_company_waits_for_the_working_group(client):
    prove_number(client)
    response = client.post("/complaints/new/details/", complaint_data(None, respondent_name="某某小贷公司"))
    assert response.status_code == 302
    complaint = Complaint.objects.get()
    assert complaint.state == Complaint.State.SUBMITTED and complaint.organisation is None
    assert complaint.respondent == "某某小贷公司"


def test_a_likely_duplicate_is_linked_and_held_for_triage(client):
    app = MemberAppFactory()
    prove_number(client)
    client.post("/complaints/new/details/", complaint_data(app))
    client.post("/complaints/new/details/", complaint_data(app, description="又收到了。"))
    client.post("/complaints/new/details/", complaint_data(app, category="banned"))
    first, second, other = Complaint.objects.order_by("pk")
    assert second.duplicate_of == first and second.state == Complaint.State.SUBMITTED
    assert other.duplicate_of is None and other.state == Complaint.State.SENT


def test_the_holder_follows_a_complaint_with_its_reference_and_a_code(client, django_user_model):
    app = MemberAppFactory(organisation=OrganisationFactory())
    prove_number(client)
    client.post("/complaints/new/details/", complaint_data(app))
    reference = Complaint.objects.get().reference

    other = client.__class__()  # another browser: it must prove the number again
    assert other.get(f"/complaints/{reference}/").status_code == 404
    response = other.post(
        "/complaints/follow/",
        {"reference": reference, "phone_number": "13900139000", "captcha_0": "x", "captcha_1": "passed"},
    )
    assert response.status_code == 200 and "13900139000" in response.content.decode()  # kept, with a clear error
    assert not other.get(f"/complaints/{reference}/").status_code == 200
    VerificationCode.objects.update(created_at=timezone.now() - timedelta(minutes=2))  # past the resend wait
    response = other.post(
        "/complaints/follow/",
        {"reference": reference.lower(), "phone_number": PHONE, "captcha_0": "x", "captcha_1": "passed"},
    )
    assert "138****8000" in response.content.decode()
    response = other.post("/complaints/verify/", {"phone_number": PHONE, "reference": reference, "code": latest_code()})
    assert response.status_code == 302 and response["Location"].endswith(f"/complaints/{reference}/")
    assert reference in other.get(response["Location"]).content.decode()


def test_english_errors_for_an_english_reader(client):
    prove_number(client)
    client.cookies["django_language"] = "en"
    response = client.post("/complaints/new/details/", complaint_data(None))
    assert "Choose the app from the list" in response.content.decode()


def test_the_form_starts_with_the_numbers_carrier(client):
    carrier = OrganisationFactory(kind="basic_carrier", legal_name="示例移动", number_segments="138 139")
    prove_number(client)
    page = client.get("/complaints/new/details/").content.decode()
    assert f'<option value="{carrier.pk}" selected>示例移动</option>' in page


def test_a_complaint_from_an_overdue_unbind_request_arrives_pre_filled(client):
    from portal.core.privacy import keyed_hash
    from portal.lookup.models import Lookup, LookupQuery

    app = MemberAppFactory(name="示例网盘")
    lookup = Lookup.objects.create(
        phone_hash=keyed_hash("phone", PHONE),
        phone_number=PHONE,
        access_token_hash="x",
        state="completed",
        completed_at=timezone.now(),
        apps_total=1,
    )
    LookupQuery.objects.create(
        lookup=lookup,
        app=app,
        state="answered",
        deadline_at=timezone.now(),
        accounts_total=1,
        accounts_previous=1,
        accounts=[{"account_ref": "a1", "registered_on": "2018-03-01", "likely_previous": True}],
    )
    (unbind,) = portal_services.unbind_request_create(lookup=lookup)

    client.get(f"/complaints/new/?unbind={unbind.public_id}")
    prove_number(client)
    page = client.get("/complaints/new/details/").content.decode()
    assert 'value="unbind_not_handled" checked' in page or 'value="unbind_not_handled" id' in page
    assert f'<option value="{app.pk}" selected>' in page and str(unbind.public_id) in page
    client.post("/complaints/new/details/", complaint_data(app, category="unbind_not_handled"))
    assert Complaint.objects.get().unbind_request_id == unbind.public_id

    # Someone else's unbind request fills nothing in.
    other = client.__class__()
    other.get(f"/complaints/new/?unbind={unbind.public_id}")
    VerificationCode.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    prove_number(other, phone="13900139000")
    assert str(unbind.public_id) not in other.get("/complaints/new/details/").content.decode()
