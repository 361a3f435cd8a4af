import re

import pyotp
import pytest
from allauth.mfa.models import Authenticator
from django.core import mail
from django.urls import reverse

from registry.models import StaffUser
from tests.registry.factories import StaffUserFactory

pytestmark = pytest.mark.django_db


def sign_in(client, user, password="correct-horse-battery"):
    return client.post(reverse("account_login"), {"login": user.email, "password": password})


def test_login_asks_for_the_totp_code_before_the_staff_console_opens(client):
    user = StaffUserFactory()
    response = sign_in(client, user)
    assert response.status_code == 302 and response.url == reverse("mfa_authenticate")
    assert client.get(reverse("staff_home")).status_code == 302  # not signed in yet

    wrong = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert wrong.status_code == 200 and "code" in wrong.context["form"].errors

    response = client.post(reverse("mfa_authenticate"), {"code": pyotp.TOTP(user.totp).now()})
    assert response.status_code == 302
    assert client.get(reverse("staff_home")).status_code == 200


def test_admin_login_goes_through_allauth(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    response = client.get(response.url)
    assert response.url.startswith(reverse("account_login"))


@pytest.mark.parametrize("path", ["/staff/", "/admin/"])
def test_staff_without_totp_must_set_it_up_first(client, path):
    user = StaffUserFactory(totp_secret=False)
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 302 and response.url.startswith(reverse("mfa_activate_totp"))


def test_staff_api_refuses_users_without_totp(client):
    client.force_login(StaffUserFactory(totp_secret=False))
    response = client.get("/api/v1/staff/apps/")
    assert response.status_code == 403 and "TOTP" in response.json()["detail"]


def test_there_is_no_open_sign_up(client):
    response = client.post(
        reverse("account_signup"), {"email": "someone@example.com", "password1": "x" * 12, "password2": "x" * 12}
    )
    assert "account/signup_closed.html" in [t.name for t in response.templates]
    assert not StaffUser.objects.filter(email="someone@example.com").exists()


def test_administrator_invites_staff_who_choose_a_password_and_must_set_up_totp(client):
    admin = StaffUserFactory(is_superuser=True)
    client.force_login(admin)
    response = client.post(
        reverse("admin:registry_staffuser_add"),
        {"email": "New.Person@Example.com", "full_name": "新员工", "role": "regulator", "province": "44"},
    )
    assert response.status_code == 302, response.content
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new.person@example.com"]
    link = re.search(r"https?://\S+", mail.outbox[0].body).group(0)

    client.logout()
    form = client.get(link, follow=True)
    assert form.status_code == 200
    response = client.post(
        form.redirect_chain[-1][0] if form.redirect_chain else link,
        {"password1": "a-long-new-passphrase", "password2": "a-long-new-passphrase"},
    )
    assert response.status_code == 302, response.context["form"].errors

    sign_in(client, type(admin).objects.get(email="new.person@example.com"), "a-long-new-passphrase")
    response = client.get(reverse("staff_home"))
    assert response.status_code == 302 and response.url.startswith(reverse("mfa_activate_totp"))
    assert not Authenticator.objects.filter(user__email="new.person@example.com").exists()


def test_forgotten_password_is_reset_by_email(client):
    user = StaffUserFactory(email="forgetful@example.com")
    response = client.post(reverse("account_reset_password"), {"email": "forgetful@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and "forgetful@example.com" in mail.outbox[0].to
    link = re.search(r"https?://\S+/password/reset/key/\S+", mail.outbox[0].body).group(0)
    form = client.get(link, follow=True)
    client.post(
        form.redirect_chain[-1][0], {"password1": "another-long-passphrase", "password2": "another-long-passphrase"}
    )
    user.refresh_from_db()
    assert user.check_password("another-long-passphrase")
