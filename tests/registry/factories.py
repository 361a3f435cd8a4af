import itertools
from datetime import date

import factory
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

from registry.models import Integration, MemberApp, Organisation, StaffUser
from registry.validators import uscc_check_character

_codes = itertools.count(1)


def valid_credit_code() -> str:
    first17 = f"91440300MA{next(_codes):07d}"
    return first17 + uscc_check_character(first17)


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    kind = Organisation.Kind.INTERNET_PLATFORM
    legal_name = factory.Sequence(lambda n: f"示例科技有限公司{n}")
    credit_code = factory.LazyFunction(valid_credit_code)
    contact_name = "王敏"
    contact_email = factory.Sequence(lambda n: f"contact{n}@example.com")
    status = Organisation.Status.ACTIVE


class MemberAppFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MemberApp

    organisation = factory.SubFactory(OrganisationFactory)
    name = factory.Sequence(lambda n: f"示例应用{n}")
    category = MemberApp.Category.SOCIAL
    supports_lookup = True
    go_live_date = date(2026, 1, 1)


class IntegrationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Integration

    app = factory.SubFactory(MemberAppFactory)
    base_url = "http://127.0.0.1:8900/app01"


class StaffUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffUser
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"staff{n}@example.com")
    full_name = "员工"
    role = StaffUser.Role.ADMINISTRATOR
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def totp_secret(self, create, extracted, **kwargs):
        """Pass totp_secret=False for a user who has not set up TOTP yet; else one is made."""
        self.save()
        if extracted is False:
            self.totp = None
            return
        self.totp = extracted or generate_totp_secret()
        TOTP.activate(self, self.totp)


def platform_staff(organisation=None, **kwargs) -> StaffUser:
    return StaffUserFactory(
        role=StaffUser.Role.PLATFORM_STAFF, organisation=organisation or OrganisationFactory(), **kwargs
    )
