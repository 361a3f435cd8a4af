"""Members' callbacks, and what staff see of lookups."""

import json

import pytest
from django.urls import reverse

from portal.lookup import services
from portal.lookup.models import LookupQuery
from portal.verification.services import verification_code_send
from registry import protocol
from registry import services as registry_services
from registry.models import StaffUser
from tests.portal.lookup.helpers import latest_code
from tests.registry.factories import (
    IntegrationFactory,
    StaffUserFactory,
    platform_staff,
)
from tests.signing import signed_headers

pytestmark = pytest.mark.django_db


@pytest.fixture
def started():
    integration = IntegrationFactory()
    key, secret = registry_services.integration_key_issue(integration=integration, by=None)
    verification_code_send(phone_number="13812345678", client_ip="127.0.0.1")
    lookup, _ = services.lookup_start(phone_number="13812345678", id_last6="40213X", code=latest_code())
    query = lookup.queries.get()
    LookupQuery.objects.filter(pk=query.pk).update(state="running", error="awaiting callback (202)", attempts=1)
    return {"lookup": lookup, "query": query, "key": key, "secret": secret, "integration": integration}


def callback(client, started, payload, secret=None):
    body = json.dumps(payload).encode()
    return client.post(
        reverse("api_platform_lookup_results", args=[started["query"].request_id]),
        body,
        content_type="application/json",
        **signed_headers(body, key_id=started["key"].key_id, secret=secret or started["secret"]),
    )


def test_a_signed_callback_settles_the_row_and_completes_the_lookup(client, started):
    other_person = protocol.id_digest(started["query"].id_check["challenge"], "12345X")
    payload = {"accounts": [{"account_ref": "u1", "registered_on": "2018-01-01", "id_last6_digest": other_person}]}
    assert callback(client, started, payload).status_code == 204
    query = LookupQuery.objects.get(pk=started["query"].pk)
    assert (query.state, query.accounts_total, query.accounts_previous) == ("answered", 1, 1)
    assert query.accounts[0]["real_name_match"] == "false" and query.id_check == {}  # compared, then forgotten
    started["lookup"].refresh_from_db()
    assert started["lookup"].state == "completed" and started["lookup"].accounts_previous == 1
    # a second callback changes nothing
    assert callback(client, started, {"accounts": []}).status_code == 204
    assert LookupQuery.objects.get(pk=started["query"].pk).accounts_total == 1


def test_the_portal_compares_each_accounts_digest_with_the_holders_characters(client, started):
    """The member answers per account the digest of its own record under the row's challenge; the
    portal keeps only true / false / not_available."""
    challenge = started["query"].id_check["challenge"]
    assert challenge not in str(started["query"].id_check["expected"])
    payload = {
        "accounts": [
            {
                "account_ref": "mine",
                "registered_on": "2030-01-01",
                "id_last6_digest": protocol.id_digest(challenge, "40213x"),
            },
            {
                "account_ref": "theirs",
                "registered_on": "2030-01-01",
                "id_last6_digest": protocol.id_digest(challenge, "40214X"),
            },
            {"account_ref": "unknown", "registered_on": "2030-01-01", "id_last6_digest": "not_available"},
            # the right characters under another challenge (an answer replayed from another call) do not match
            {
                "account_ref": "replayed",
                "registered_on": "2030-01-01",
                "id_last6_digest": protocol.id_digest("ab" * 32, "40213X"),
            },
        ]
    }
    assert callback(client, started, payload).status_code == 204
    query = LookupQuery.objects.get(pk=started["query"].pk)
    assert {a["account_ref"]: (a["real_name_match"], a["likely_previous"]) for a in query.accounts} == {
        "mine": ("true", False),
        "theirs": ("false", True),
        "unknown": ("not_available", False),
        "replayed": ("false", True),
    }
    assert not any(
        set(a) - {"account_ref", "registered_on", "real_name_match", "likely_previous"} for a in query.accounts
    )
    assert query.accounts_previous == 2


def test_a_forged_or_malformed_callback_is_refused(client, started):
    assert callback(client, started, {"accounts": []}, secret=protocol.new_secret()).status_code == 401
    assert callback(client, started, {"accounts": "many"}).status_code == 400
    assert LookupQuery.objects.get(pk=started["query"].pk).state == "running"


def test_platform_staff_see_their_apps_query_log_and_no_one_elses(client, started):
    own = platform_staff(started["integration"].app.organisation)
    client.force_login(own)
    page = client.get(reverse("staff_app_queries", args=[started["integration"].app.pk])).content.decode()
    assert str(started["query"].request_id) in page and "13812345678" not in page and "138****" not in page
    client.force_login(platform_staff())
    assert client.get(reverse("staff_app_queries", args=[started["integration"].app.pk])).status_code == 404


def test_administrators_see_every_lookup_with_masked_numbers(client, started):
    client.force_login(StaffUserFactory(role=StaffUser.Role.ADMINISTRATOR))
    page = client.get(reverse("staff_lookups")).content.decode()
    assert "138****5678" in page and "13812345678" not in page
    client.force_login(platform_staff())
    assert client.get(reverse("staff_lookups")).status_code == 404
