import pytest
from django.core.exceptions import ValidationError

from registry import services
from registry.models import IntegrationKey, Organisation
from tests.registry.factories import (
    IntegrationFactory,
    OrganisationFactory,
    StaffUserFactory,
)

pytestmark = pytest.mark.django_db


def test_status_change_records_who_and_when():
    admin = StaffUserFactory()
    org = OrganisationFactory(status=Organisation.Status.APPLIED)

    services.organisation_set_status(organisation=org, status="approved", by=admin, reason="papers in order")

    org.refresh_from_db()
    assert org.status == "approved"
    assert org.status_changed_by == admin
    change = org.status_changes.get()
    assert (change.from_status, change.to_status, change.changed_by, change.reason) == (
        "applied",
        "approved",
        admin,
        "papers in order",
    )


def test_withdrawn_is_final_and_the_refusal_says_why():
    org = OrganisationFactory(status=Organisation.Status.WITHDRAWN, legal_name="某公司")
    with pytest.raises(ValidationError) as error:
        services.organisation_set_status(organisation=org, status="active", by=None)
    assert "某公司" in error.value.messages[0]
    assert org.status_changes.count() == 0


def test_key_secret_is_returned_once_and_stored_only_encrypted():
    integration = IntegrationFactory()
    key, secret = services.integration_key_issue(integration=integration, by=None)

    stored = IntegrationKey.objects.get(pk=key.pk)
    assert secret not in stored.secret_encrypted
    assert stored.secret() == secret


def test_two_keys_stay_valid_during_rotation_and_a_third_revokes_the_oldest():
    integration = IntegrationFactory()
    first, _ = services.integration_key_issue(integration=integration, by=None)
    second, _ = services.integration_key_issue(integration=integration, by=None)
    assert set(integration.keys.filter(revoked_at__isnull=True)) == {first, second}

    third, _ = services.integration_key_issue(integration=integration, by=None)

    assert set(integration.keys.filter(revoked_at__isnull=True)) == {second, third}
    first.refresh_from_db()
    assert first.revoked_at is not None
