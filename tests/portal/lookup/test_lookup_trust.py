"""Issue 11 §2 (Trust): member platforms never receive anything derived from the holder's ID, and the
broker carries no phone number in clear. Real worker, real Redis, real HTTP members on loopback."""

import base64
import json
import re
import threading

import pytest
import redis
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from portal.lookup import services
from portal.lookup.models import LookupQuery
from portal.sms.models import SmsMessage
from portal.unbinding.models import UnbindRequest
from portal.verification.services import verification_code_send
from registry import endpoint_check, protocol
from tests.member_server import MemberServer
from tests.portal.lookup.helpers import (
    latest_code,
    simulated_apps,
    wait_for,
    wait_until_completed,
)
from tests.portal.unbinding.helpers import (
    completed_lookup,
    number_with_previous_accounts,
)
from tests.registry.factories import OrganisationFactory

pytestmark = pytest.mark.worker


class CapturingMember(MemberServer):
    """Answers as v2 asks: no accounts, and "not_available" to an identity check (nothing it answers
    depends on the request), after checking the portal's signature as a member would."""

    def answer(self, name, request):
        secret = self.secrets[name]
        protocol.verify(request["headers"], request["body"], keys=[secret])
        answer = (
            {"id_last6_digest": "not_available"}
            if request["path"].endswith(protocol.IDENTITY_CHECK_PATH)
            else {"accounts": []}
        )
        return 200, answer, secret

    def sign(self, secret, reply):
        return protocol.sign(reply, keys=secret)


@pytest.fixture
def member():
    capturing = CapturingMember()
    yield capturing
    capturing.stop()


def lookup_as(phone: str, id_last6: str):
    verification_code_send(phone_number=phone, client_ip="127.0.0.1")
    lookup, _token = services.lookup_start(phone_number=phone, id_last6=id_last6, code=latest_code())
    return wait_until_completed(lookup.pk)


def test_attack_member_cannot_recover_id_characters_from_lookup_request(celery_workers, member, settings):
    """v1 sent each member HMAC(its own secret, salt:last6), from which a member recovered the holder's
    characters in seconds. In v2 what a member (and the carrier) receives does not depend on them at
    all: two lookups of one number with different ID characters give requests that differ only in
    the random request id and challenge (and the signature over them)."""
    settings.LOOKUP_ONE_PER_NUMBER_HOURS = 0  # the same number twice, so only the ID characters differ
    settings.LOOKUP_CODE_RESEND_SECONDS = 0
    carrier = OrganisationFactory(kind="basic_carrier", number_segments="138")
    member.register(
        "carrier-app", organisation=carrier, category="telecom", supports_identity_check=True, supports_lookup=False
    )
    member.register("app-a")
    member.register("app-b")
    celery_workers.start("trust", "--concurrency", "2")
    celery_workers.wait_until_ready(1)

    first = lookup_as("13812345678", "40213X")
    second = lookup_as("13812345678", "99999x")
    assert first.identity_check == second.identity_check == "not_available"
    assert first.queries.filter(state="no_account").count() == second.queries.filter(state="no_account").count() == 2

    lookups = member.received(protocol.ACCOUNT_LOOKUP_PATH)
    checks = member.received(protocol.IDENTITY_CHECK_PATH)
    assert len(lookups) == 4 and len(checks) == 2
    random_fields = {"request_id", "id_challenge"}
    for sent in (lookups, checks):
        for request in sent:
            assert set(request["payload"]) <= {"request_id", "phone_number", "holder_since", "id_challenge"}
            assert re.fullmatch(r"[0-9a-f]{64}", request["payload"]["id_challenge"])
            body = request["body"].decode()
            assert "40213" not in body and "99999" not in body
        without_random = {json.dumps({k: v for k, v in r["payload"].items() if k not in random_fields}) for r in sent}
        assert len(without_random) == 1, without_random  # the same for both holders, and for every app
        assert len({r["payload"]["id_challenge"] for r in sent}) == len(sent)  # a fresh challenge per member call
        unsigned = {
            json.dumps(
                {
                    k: v
                    for k, v in r["headers"].items()
                    if k.lower()
                    not in (protocol.HEADER_SIGNATURE, protocol.HEADER_TIMESTAMP, protocol.HEADER_ID, "content-length")
                },
                sort_keys=True,
            )
            for r in sent
        }
        assert len(unsigned) == 1
    # once the rows settled the portal keeps nothing of the characters either, only the outcome
    assert not LookupQuery.objects.exclude(id_check={}).exists()


def _broker_texts(commands: list[str]) -> list[str]:
    """Each command sent to the test's Redis database, with the base64 task bodies of Celery messages
    decoded (their arguments)."""
    texts = []
    for command in commands:
        texts.append(command)
        for encoded in re.findall(r'"body": "([A-Za-z0-9+/=]{8,})"', command):
            texts.append(base64.b64decode(encoded).decode("utf-8", "replace"))
    return texts


def test_broker_messages_and_task_arguments_carry_no_phone_number_in_clear(client, celery_workers, simulator):
    """Every command the web side and the workers send to Redis during a lookup, its summary SMS and an
    unbind push (Celery puts arguments in the message body and in `argsrepr`): task messages carry
    row ids, or the lookup's calls sealed with the field keys; never the number or the ID check."""
    db = redis.Redis.from_url(settings.REDIS_URL)
    db_index = db.connection_pool.connection_kwargs.get("db", 0)
    commands, stop = [], threading.Event()

    def watch():
        with redis.Redis.from_url(settings.REDIS_URL).monitor() as monitor:
            ready.set()
            while not stop.is_set():
                command = monitor.next_command()
                if command["db"] == db_index:
                    commands.append(command["command"])

    ready = threading.Event()
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    ready.wait(5)

    (app,) = simulated_apps(simulator, ["app01"], supports_unbind=True)
    celery_workers.start("broker", "--concurrency", "2")
    celery_workers.wait_until_ready(1)
    phone = number_with_previous_accounts(["app01"], start=3000)
    lookup, _token = completed_lookup(phone)
    query = lookup.queries.get()
    assert query.state == "answered" and query.accounts_previous >= 1
    session = client.session
    session["lookups"] = [str(lookup.pk)]
    session.save()
    client.post(reverse("lookup_unbind", args=[lookup.pk]), {"app": app.pk})
    wait_for(lambda: UnbindRequest.objects.filter(app=app, state="done").exists(), what="the unbind push")
    wait_for(
        lambda: SmsMessage.objects.filter(purpose="lookup_summary", status="sent").exists(), what="the summary SMS"
    )
    stop.set()
    db.ping()  # wakes the watcher
    watcher.join(5)

    texts = _broker_texts(commands)
    published = " ".join(texts)
    # the watch saw the task messages: the sealed calls, the SMS deliveries and the unbind push
    for task in ("portal.tasks.lookup_calls_run", "portal.tasks.sms_deliver", "portal.tasks.unbind_request_deliver"):
        assert task in published, task
    for text in texts:
        assert phone not in text and phone[3:] not in text, text[:300]  # nor +86..., nor the last eight digits
    sealed = re.findall(r'portal\.tasks\.lookup_calls_run.*?"argsrepr": "(.*?)"', published)
    assert sealed and all("gAAAA" in argsrepr for argsrepr in sealed)  # a Fernet token, nothing else


@pytest.mark.django_db
def test_test_my_endpoint_sends_a_v2_request_and_checks_a_v2_answer(member):
    """ "Test my endpoint" speaks v2 too: a random challenge for the test number, nothing else."""
    app, _key, _secret = member.register("selftest-app")
    with translation.override("en"):  # point names in English for the assertions
        points = {p.name: p.passed for p in endpoint_check.integration_check_endpoint(integration=app.integration)}
    assert points["Answer follows protocol v2"] is True
    sent = member.received(protocol.ACCOUNT_LOOKUP_PATH)[0]
    assert set(sent["payload"]) == {"request_id", "phone_number", "holder_since", "id_challenge"}
    assert (
        protocol.parse_id_challenge(sent["payload"]) and sent["payload"]["phone_number"] == endpoint_check.TEST_NUMBER
    )
