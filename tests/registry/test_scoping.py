"""Staff of organisation A never see organisation B's data: 404 in pages and in the API."""

import pytest
from django.urls import reverse

from registry.models import StaffUser
from tests.registry.factories import (
    MemberAppFactory,
    OrganisationFactory,
    StaffUserFactory,
    platform_staff,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_members():
    org_a, org_b = OrganisationFactory(), OrganisationFactory()
    return {
        "staff_a": platform_staff(org_a),
        "app_a": MemberAppFactory(organisation=org_a, name="A 的应用"),
        "app_b": MemberAppFactory(organisation=org_b, name="B 的应用"),
    }


def test_staff_page_of_another_organisations_app_is_not_found(client, two_members):
    client.force_login(two_members["staff_a"])
    assert client.get(reverse("staff_app_detail", args=[two_members["app_a"].pk])).status_code == 200
    assert client.get(reverse("staff_app_detail", args=[two_members["app_b"].pk])).status_code == 404


def test_staff_console_lists_only_own_apps(client, two_members):
    client.force_login(two_members["staff_a"])
    page = client.get(reverse("staff_home")).content.decode()
    assert "A 的应用" in page and "B 的应用" not in page


def test_api_hides_another_organisations_app(client, two_members):
    client.force_login(two_members["staff_a"])
    listed = client.get("/api/v1/staff/apps/").json()
    assert [row["name"] for row in listed["results"]] == ["A 的应用"]
    assert client.get(f"/api/v1/staff/apps/{two_members['app_b'].pk}/").status_code == 404
    assert client.get(f"/api/v1/staff/apps/{two_members['app_a'].pk}/").status_code == 200


def test_administrator_sees_every_organisation(client, two_members):
    client.force_login(StaffUserFactory(role=StaffUser.Role.ADMINISTRATOR))
    assert client.get(f"/api/v1/staff/apps/{two_members['app_b'].pk}/").status_code == 200


def test_regulator_sees_no_member_operational_data(client, two_members):
    client.force_login(StaffUserFactory(role=StaffUser.Role.REGULATOR, province="44"))
    assert client.get("/api/v1/staff/apps/").json()["results"] == []
    assert client.get(reverse("staff_app_detail", args=[two_members["app_a"].pk])).status_code == 404


def test_anonymous_api_is_refused(client, two_members):
    assert client.get("/api/v1/staff/apps/").status_code == 403
