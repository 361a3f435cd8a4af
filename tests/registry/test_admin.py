import pytest
from django.urls import reverse

from registry.models import Integration, IntegrationKey, Organisation
from tests.registry.factories import (
    IntegrationFactory,
    OrganisationFactory,
    StaffUserFactory,
    valid_credit_code,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(StaffUserFactory(is_superuser=True))
    return client


def test_approve_and_suspend_actions_record_the_change(admin_client):
    org = OrganisationFactory(status=Organisation.Status.APPLIED)
    url = reverse("admin:registry_organisation_changelist")
    admin_client.post(url, {"action": "set_status_approved", "_selected_action": [org.pk]})
    admin_client.post(url, {"action": "set_status_active", "_selected_action": [org.pk]})
    admin_client.post(url, {"action": "set_status_suspended", "_selected_action": [org.pk]})
    org.refresh_from_db()
    assert org.status == "suspended"
    assert [c.to_status for c in org.status_changes.order_by("changed_at", "pk")] == ["approved", "active", "suspended"]


def test_an_illegal_transition_is_refused_with_a_message(admin_client):
    org = OrganisationFactory(status=Organisation.Status.APPLIED)
    response = admin_client.post(
        reverse("admin:registry_organisation_changelist"),
        {"action": "set_status_suspended", "_selected_action": [org.pk]},
        follow=True,
    )
    org.refresh_from_db()
    assert org.status == "applied"
    assert any("无法从“已申请”变更为“已暂停”" in str(m) for m in response.context["messages"])


def test_a_wrong_credit_code_is_refused_and_what_was_typed_is_kept(admin_client):
    code = valid_credit_code()
    typo = code[:-1] + ("0" if code[-1] != "0" else "1")
    response = admin_client.post(
        reverse("admin:registry_organisation_add"),
        {
            "kind": "internet_platform",
            "legal_name": "输入保留测试有限公司",
            "credit_code": typo,
            "contact_name": "王敏",
            "contact_email": "a@example.com",
            "status": "applied",
            "apps-TOTAL_FORMS": 0,
            "apps-INITIAL_FORMS": 0,
            "status_changes-TOTAL_FORMS": 0,
            "status_changes-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 200
    assert "credit_code" in response.context["adminform"].form.errors
    assert "输入保留测试有限公司" in response.content.decode()


def test_new_integration_shows_its_secret_once(admin_client):
    from tests.registry.factories import MemberAppFactory

    app = MemberAppFactory()
    response = admin_client.post(
        reverse("admin:registry_integration_add"),
        {
            "app": app.pk,
            "base_url": "https://api.example.com",
            "timeout_ms": 3000,
            "max_requests_per_second": 20,
            "enabled": "on",
            "keys-TOTAL_FORMS": 0,
            "keys-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 200
    key = IntegrationKey.objects.get(integration__app=app)
    assert key.secret() in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    change_page = admin_client.get(
        reverse("admin:registry_integration_change", args=[Integration.objects.get(app=app).pk])
    )
    assert key.secret() not in change_page.content.decode()


def test_rotate_key_action_keeps_the_previous_key_valid(admin_client):
    integration = IntegrationFactory()
    admin_client.post(
        reverse("admin:registry_integration_changelist"), {"action": "rotate_key", "_selected_action": [integration.pk]}
    )
    admin_client.post(
        reverse("admin:registry_integration_changelist"), {"action": "rotate_key", "_selected_action": [integration.pk]}
    )
    assert integration.keys.filter(revoked_at__isnull=True).count() == 2


@pytest.mark.parametrize("model", ["organisation", "memberapp", "integration", "staffuser"])
def test_changelists_search_and_filter(admin_client, model):
    IntegrationFactory()
    url = reverse(f"admin:registry_{model}_changelist")
    assert admin_client.get(url, {"q": "示例"}).status_code == 200
