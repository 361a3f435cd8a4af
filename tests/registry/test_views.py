from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from registry import protocol
from registry.models import MemberApp, Organisation
from tests.registry.factories import MemberAppFactory, OrganisationFactory

pytestmark = pytest.mark.django_db


def test_directory_lists_live_apps_of_active_members_by_category(client):
    MemberAppFactory(name="聊天甲", category=MemberApp.Category.SOCIAL, supports_unbind=True)
    MemberAppFactory(name="银行乙", category=MemberApp.Category.BANKING)
    MemberAppFactory(name="暂停丙", organisation=OrganisationFactory(status=Organisation.Status.SUSPENDED))
    MemberAppFactory(name="未上线丁", go_live_date=timezone.localdate() + timedelta(days=3))

    page = client.get(reverse("directory")).content.decode()

    assert "聊天甲" in page and "银行乙" in page
    assert "暂停丙" not in page and "未上线丁" not in page
    assert page.index("银行") < page.index("聊天甲")  # categories in the registry's order, banking first
    assert "解绑" in page  # capabilities in Chinese by default


def test_directory_in_english(client):
    MemberAppFactory(name="聊天甲", supports_unbind=True)
    client.post(reverse("set_language"), {"language": "en", "next": "/directory/"})
    page = client.get(reverse("directory")).content.decode()
    assert "Member apps" in page and "unbinding" in page


@pytest.fixture
def member_app_at(simulator):
    from portal.devtools.demo import demo_key_secret
    from registry import services
    from tests.registry.factories import IntegrationFactory, platform_staff

    def make(slug, *, key_secret=None, timeout_ms=1000):
        integration = IntegrationFactory(base_url=f"{simulator}/{slug}", timeout_ms=timeout_ms)
        services.integration_key_issue(
            integration=integration, by=None, key_id=f"demo_{slug}", secret=key_secret or demo_key_secret(slug)
        )
        return integration.app, platform_staff(integration.app.organisation)

    return make


def check(client, app, staff):
    client.force_login(staff)
    client.cookies["django_language"] = "en"  # point names in English for the assertions
    response = client.post(reverse("staff_app_check_endpoint", args=[app.pk]))
    assert response.status_code == 200
    return {p.name: p.passed for p in response.context["check_points"]}, response.content.decode()


def test_test_my_endpoint_passes_every_point_for_a_good_member(client, member_app_at):
    points, page = check(client, *member_app_at("app01"))
    assert points and all(points.values()), points
    assert "✔" in page and "✘" not in page


def test_test_my_endpoint_names_what_a_garbage_answer_breaks(client, member_app_at):
    points, _ = check(client, *member_app_at("app04"))
    assert points["Accepts the portal's signature"] and points["Signs its answer"]
    assert points["Answer follows protocol v2"] is False


def test_test_my_endpoint_reports_a_timeout(client, member_app_at):
    points, page = check(client, *member_app_at("app02", timeout_ms=300))
    assert list(points.values()) == [False]


def test_test_my_endpoint_reports_a_wrong_key(client, member_app_at):
    points, _ = check(client, *member_app_at("app01", key_secret=protocol.new_secret()))
    assert False in points.values()


def test_staff_cannot_test_another_organisations_endpoint(client, member_app_at):
    app, _staff = member_app_at("app01")
    _other_app, other_staff = member_app_at("app03")
    client.force_login(other_staff)
    assert client.post(reverse("staff_app_check_endpoint", args=[app.pk])).status_code == 404
