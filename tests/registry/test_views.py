from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

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
