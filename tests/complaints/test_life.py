"""The life of a complaint: the platform answers (console and API), the holder rates or disputes, deadlines
mark late answers and escalate, administrators triage; staff see only their own organisation's cases."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from complaints import deadlines, services
from complaints.models import Complaint
from portal.sms.models import SmsMessage
from tests.complaints.helpers import (
    PHONE,
    api_get,
    api_post,
    complaint_data,
    member_system,
    png_file,
    prove_number,
)
from tests.registry.factories import (
    MemberAppFactory,
    OrganisationFactory,
    StaffUserFactory,
    platform_staff,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def filed(client):
    """A complaint about platform A's app, with a screenshot, filed by the holder in `client`."""
    app = MemberAppFactory(organisation=OrganisationFactory(legal_name="甲科技有限公司"))
    prove_number(client)
    client.post("/complaints/new/details/", complaint_data(app, evidence=[png_file()]))
    return Complaint.objects.get()


def sms_texts() -> list[str]:
    return list(SmsMessage.objects.filter(purpose="complaint").order_by("pk").values_list("text", flat=True))


def test_the_platform_answers_in_its_console_and_the_holder_rates_it(client, filed):
    staff = platform_staff(organisation=filed.organisation)
    console = client.__class__()
    console.force_login(staff)
    assert "/staff/complaints/?queue=open" in console.get("/staff/").content.decode()
    page = console.get("/staff/complaints/?queue=open").content.decode()
    assert filed.reference in page and "14" in page  # the deadline countdown
    detail = console.get(f"/staff/complaints/{filed.reference}/").content.decode()
    assert PHONE in detail and "王先生" in detail and "screenshot.png" in detail
    assert console.get(f"/complaints/evidence/{filed.evidence.get().pk}").status_code == 200

    # A relief answer without saying which relief is refused, and the text typed is kept.
    response = console.post(
        f"/staff/complaints/{filed.reference}/answer/",
        {"answer": "closed_with_relief", "relief": "", "text": "已解绑旧账号。"},
    )
    assert response.status_code == 400 and "已解绑旧账号。" in response.content.decode()
    response = console.post(
        f"/staff/complaints/{filed.reference}/answer/",
        {"answer": "closed_with_relief", "relief": "unbound", "text": "已解绑旧账号。"},
    )
    assert response.status_code == 302
    filed.refresh_from_db()
    assert filed.state == Complaint.State.ANSWERED and filed.timely is True and filed.relief == "unbound"
    assert "已答复" in sms_texts()[-1] and filed.reference in sms_texts()[-1]

    # The holder reads the answer and rates it; the case closes.
    page = client.get(f"/complaints/{filed.reference}/").content.decode()
    assert "已解绑旧账号。" in page
    client.post(f"/complaints/{filed.reference}/feedback/", {"score": "4", "rate": "1"})
    filed.refresh_from_db()
    assert filed.state == Complaint.State.CLOSED and filed.feedback_score == 4

    # Every change was kept: who, what, old and new value.
    event = filed.events.get(action="answered", field="state")
    assert event.actor == staff and event.old_value == "sent" and event.new_value == "answered"
    assert filed.events.filter(action="rated", actor_label="holder").exists()


def test_in_progress_then_final_and_a_dispute_escalates(filed):
    services.complaint_answer(complaint=filed, by="甲 system", answer="in_progress", text="正在核实。")
    filed.refresh_from_db()
    assert filed.state == Complaint.State.IN_PROGRESS and filed.first_answer_at and filed.timely is True
    with pytest.raises(services.NotAllowed):
        services.complaint_answer(complaint=filed, by="甲 system", answer="in_progress", text="还在核实。")
    services.complaint_answer(complaint=filed, by="甲 system", answer="closed_with_explanation", text="该账号已注销。")
    filed.refresh_from_db()
    services.complaint_feedback(complaint=filed, dispute=True, comment="仍然收到短信")
    filed.refresh_from_db()
    assert filed.state == Complaint.State.ESCALATED and filed.feedback == "disputed"


def test_the_deadline_job_escalates_unanswered_cases_and_marks_late_answers(filed):
    sent_at = filed.sent_at
    assert deadlines.complaint_deadlines_enforce(now=sent_at + timedelta(days=14)) == {"escalated": 0, "closed": 0}
    counts = deadlines.complaint_deadlines_enforce(now=sent_at + timedelta(days=16))
    assert counts["escalated"] == 1
    filed.refresh_from_db()
    assert filed.state == Complaint.State.ESCALATED and filed.timely is False and filed.escalated_at
    assert any("escalated" in text or "升级" in text for text in sms_texts())
    assert deadlines.complaint_deadlines_enforce(now=sent_at + timedelta(days=17))["escalated"] == 0  # once

    # The platform may still answer; the answer stays marked untimely.
    services.complaint_answer(complaint=filed, by="甲 system", answer="closed_with_explanation", text="迟到的答复。")
    filed.refresh_from_db()
    assert filed.state == Complaint.State.ANSWERED and filed.timely is False

    # Without feedback for 30 days, the case closes.
    deadlines.complaint_deadlines_enforce(now=filed.answered_at + timedelta(days=31))
    filed.refresh_from_db()
    assert filed.state == Complaint.State.CLOSED


def test_in_progress_must_become_final_within_sixty_days(filed):
    services.complaint_answer(complaint=filed, by="甲 system", answer="in_progress", text="正在核实。")
    filed.refresh_from_db()
    assert deadlines.complaint_deadlines_enforce(now=filed.sent_at + timedelta(days=30))["escalated"] == 0
    assert deadlines.complaint_deadlines_enforce(now=filed.sent_at + timedelta(days=61))["escalated"] == 1
    filed.refresh_from_db()
    assert filed.state == Complaint.State.ESCALATED and filed.timely is False


def test_an_answer_after_the_due_date_is_untimely(filed):
    Complaint.objects.filter(pk=filed.pk).update(answer_due_at=timezone.now() - timedelta(hours=1))
    filed.refresh_from_db()
    services.complaint_answer(complaint=filed, by="甲 system", answer="closed_with_explanation", text="答复。")
    filed.refresh_from_db()
    assert filed.timely is False


def test_staff_of_another_platform_see_nothing_by_page_api_or_file(client, filed):
    other_org = OrganisationFactory()
    other = platform_staff(organisation=other_org)
    browser = client.__class__()
    browser.force_login(other)
    assert filed.reference not in browser.get("/staff/complaints/").content.decode()
    assert browser.get(f"/staff/complaints/{filed.reference}/").status_code == 404
    assert (
        browser.post(
            f"/staff/complaints/{filed.reference}/answer/", {"answer": "closed_with_explanation", "text": "x"}
        ).status_code
        == 404
    )
    assert browser.get(f"/complaints/evidence/{filed.evidence.get().pk}").status_code == 404
    assert filed.reference not in b"".join(browser.get("/staff/complaints/export.csv").streaming_content).decode()

    key, secret = member_system(other_org)
    assert api_get(browser, f"/api/v1/platform/complaints/{filed.reference}", key, secret).status_code == 404
    assert api_get(browser, "/api/v1/platform/complaints", key, secret).json()["count"] == 0
    evidence = filed.evidence.get()
    target = f"/api/v1/platform/complaints/{filed.reference}/evidence/{evidence.pk}"
    assert api_get(browser, target, key, secret).status_code == 404
    assert (
        api_post(
            browser,
            f"/api/v1/platform/complaints/{filed.reference}/answer",
            {"answer": "misrouted", "text": "x"},
            key,
            secret,
        ).status_code
        == 404
    )

    # Nor does a visitor who is not signed in, nor a regulator (statistics only).
    assert client.__class__().get(f"/complaints/evidence/{evidence.pk}").status_code == 404
    regulator = client.__class__()
    regulator.force_login(StaffUserFactory(role="regulator"))
    assert regulator.get(f"/complaints/evidence/{evidence.pk}").status_code == 404


def test_without_consent_the_platform_gets_neither_description_nor_files(client):
    app = MemberAppFactory()
    prove_number(client)
    client.post("/complaints/new/details/", complaint_data(app, consent_to_share="", evidence=[png_file()]))
    complaint = Complaint.objects.get()
    browser = client.__class__()
    browser.force_login(platform_staff(organisation=app.organisation))
    page = browser.get(f"/staff/complaints/{complaint.reference}/").content.decode()
    assert "王先生" not in page and "screenshot.png" not in page
    assert browser.get(f"/complaints/evidence/{complaint.evidence.get().pk}").status_code == 404
    key, secret = member_system(app.organisation)
    body = api_get(browser, f"/api/v1/platform/complaints/{complaint.reference}", key, secret).json()
    assert body["description"] is None and body["evidence"] is None and body["phone_number"] == "+86" + PHONE


def test_the_platform_api_lists_reads_and_answers(client, filed):
    key, secret = member_system(filed.organisation)
    listing = api_get(client, "/api/v1/platform/complaints?queue=open", key, secret).json()
    assert [c["reference"] for c in listing["results"]] == [filed.reference]
    case = listing["results"][0]
    assert case["days_left"] == 14 or case["days_left"] == 15
    assert case["evidence"][0]["name"] == "screenshot.png"
    assert api_get(client, case["evidence"][0]["url"], key, secret).status_code == 200

    bad = api_post(
        client, f"/api/v1/platform/complaints/{filed.reference}/answer", {"answer": "maybe", "text": "x"}, key, secret
    )
    assert bad.status_code == 400
    answered = api_post(
        client,
        f"/api/v1/platform/complaints/{filed.reference}/answer",
        {"answer": "closed_with_relief", "relief": "collection_stopped", "text": "已停止催收。"},
        key,
        secret,
    )
    assert answered.status_code == 200 and answered.json()["state"] == "answered"
    again = api_post(
        client,
        f"/api/v1/platform/complaints/{filed.reference}/answer",
        {"answer": "closed_with_explanation", "text": "x"},
        key,
        secret,
    )
    assert again.status_code == 409
    assert filed.events.filter(action="answered", actor__isnull=True).exclude(actor_label="system").exists()


def test_administrators_triage_reject_merge_and_reroute(client):
    app = MemberAppFactory()
    prove_number(client)
    client.post("/complaints/new/details/", complaint_data(app))
    client.post("/complaints/new/details/", complaint_data(app, description="重复"))
    client.post("/complaints/new/details/", complaint_data(None, respondent_name="非会员公司"))
    first, duplicate, non_member = Complaint.objects.order_by("pk")
    admin = client.__class__()
    admin.force_login(StaffUserFactory())
    triage = admin.get("/staff/complaints/?queue=triage").content.decode()
    assert duplicate.reference in triage and non_member.reference in triage and first.reference not in triage

    admin.post(f"/staff/complaints/{duplicate.reference}/merge/", {"into": first.reference})
    duplicate.refresh_from_db()
    assert duplicate.state == Complaint.State.CLOSED and duplicate.merged_into == first

    response = admin.post(f"/staff/complaints/{non_member.reference}/reject/", {"reason": ""})
    assert response.status_code == 400
    admin.post(f"/staff/complaints/{non_member.reference}/reject/", {"reason": "该公司不在受理范围，请向12321举报。"})
    non_member.refresh_from_db()
    assert non_member.state == Complaint.State.REJECTED
    assert "12321" in client.get(f"/complaints/{non_member.reference}/").content.decode()

    # A platform says "not our user": back to triage, and the administrator sends it to the right app.
    services.complaint_answer(complaint=first, by="system x", answer="misrouted", text="不是我们的用户。")
    first.refresh_from_db()
    assert first.state == Complaint.State.SUBMITTED
    right = MemberAppFactory()
    admin.post(f"/staff/complaints/{first.reference}/reroute/", {"app": right.pk})
    first.refresh_from_db()
    assert first.state == Complaint.State.SENT and first.organisation == right.organisation and first.answer == ""

    # Platform staff cannot triage.
    staff = client.__class__()
    staff.force_login(platform_staff(organisation=right.organisation))
    assert staff.post(f"/staff/complaints/{first.reference}/reject/", {"reason": "no"}).status_code == 404


def test_the_export_streams_own_cases_with_masked_numbers(client, filed):
    browser = client.__class__()
    browser.force_login(platform_staff(organisation=filed.organisation))
    response = browser.get("/staff/complaints/export.csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][0] == "Complaint ID" and rows[1][0] == filed.reference
    assert "138****8000" in rows[1] and PHONE not in ",".join(rows[1])


def test_personal_details_are_purged_after_retention_and_counts_stay(client, filed):
    services.complaint_answer(complaint=filed, by="甲 system", answer="closed_with_explanation", text="答复。")
    filed.refresh_from_db()
    services.complaint_feedback(complaint=filed, score=5)
    filed.refresh_from_db()
    evidence_path = filed.evidence.get().file.path
    assert deadlines.complaint_purge(now=filed.closed_at + timedelta(days=366)) == 1
    filed.refresh_from_db()
    assert filed.phone_encrypted == "" and filed.description == "" and not filed.evidence.exists()
    assert filed.category == "debt_collection" and filed.feedback_score == 5 and filed.timely is True
    import os

    assert not os.path.exists(evidence_path)


def test_a_typed_formula_reaches_the_staff_export_defused(client):
    prove_number(client)
    client.post(
        "/complaints/new/details/", complaint_data(None, respondent_name='=HYPERLINK("http://evil.example","x")')
    )
    admin = client.__class__()
    admin.force_login(StaffUserFactory())
    body = b"".join(admin.get("/staff/complaints/export.csv").streaming_content).decode("utf-8-sig")
    row = list(csv.reader(io.StringIO(body)))[1]
    assert '\'=HYPERLINK("http://evil.example","x")' in row
