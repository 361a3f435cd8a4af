"""The outbound policy (portal/outbound/): a member cannot turn the portal's calls against the portal's
own network. URLs are checked when saved and, what counts, the addresses are checked again at every
connection; redirects are never followed; what an endpoint answered is recorded as status and the
portal's own reason, never as a copy of its body.

Members' endpoints here are small HTTP servers on 127.0.0.1 (test settings allow 127.0.0.0/8, as
development does for the simulator); a test that shows loopback refused takes the allowance away."""

import json
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import override_settings
from django.urls import reverse

from portal.lookup import fanout
from portal.lookup.models import LookupQuery
from portal.lookup.services import lookup_start
from portal.notices import delivery as notices
from portal.notices import services
from portal.notices.models import NoticeAttempt, NoticeDelivery, NoticeSubscription
from portal.outbound import policy
from portal.verification.services import verification_code_send
from registry import protocol
from registry import services as registry_services
from registry.models import Integration
from tests.portal.lookup.helpers import latest_code
from tests.registry.factories import (
    IntegrationFactory,
    MemberAppFactory,
    StaffUserFactory,
    platform_staff,
)

NO_LOOPBACK = override_settings(OUTBOUND_ALLOWED_NETWORKS=[])

# What a member could aim the portal at: its loopback, the cloud metadata service, private networks,
# IPv6 loopback, and names that resolve to them.
INTERNAL_URLS = [
    "http://127.0.0.1:6379/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://192.168.1.1:8080/admin",
    "http://100.100.100.200/latest/meta-data/",  # Alibaba Cloud's metadata service (shared address space)
    "http://[::1]:5432/",
    "http://[::ffff:127.0.0.1]/",
    "http://localhost:5432/",  # a host name that resolves to 127.0.0.1
]


class Endpoint:
    """A member's endpoint on loopback: answers what the test says and records every request."""

    def __init__(self, status=200, headers=None, body=b""):
        self.status, self.headers, self.body = status, headers or {}, body
        self.received: list[str] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                endpoint.received.append(self.path)
                self.send_response(endpoint.status)
                for name, value in endpoint.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(endpoint.body)))
                self.end_headers()
                self.wfile.write(endpoint.body)

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint():
    made = []

    def make(**answer) -> Endpoint:
        made.append(Endpoint(**answer))
        return made[-1]

    yield make
    for one in made:
        one.close()


@pytest.fixture
def dns(monkeypatch):
    """The member's DNS, which the member controls: names put here resolve where the test says, and
    can change their answer after the URL was saved (DNS rebinding). The portal's resolver is
    `policy.getaddrinfo`; everything else resolves as usual."""
    records: dict[str, str] = {}
    system = policy.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        if host in records:
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (records[host], int(port)))]
        return system(host, port, family, type, proto, flags)

    monkeypatch.setattr(policy, "getaddrinfo", getaddrinfo)
    return records


@pytest.fixture
def no_stray_tasks():
    """The tests here run the senders in this process; retries they queue must not reach another
    test's workers."""
    yield
    from portal.celery import app

    app.control.purge()


def admin_saves_integration(client, base_url):
    app = MemberAppFactory()
    client.force_login(StaffUserFactory(is_superuser=True))
    response = client.post(
        reverse("admin:registry_integration_add"),
        {
            "app": app.pk,
            "base_url": base_url,
            "timeout_ms": 2000,
            "max_requests_per_second": 20,
            "enabled": "on",
            "keys-TOTAL_FORMS": 0,
            "keys-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 200
    return app, response


def member_with_key(base_url):
    integration = IntegrationFactory(base_url=base_url, timeout_ms=2000)
    key, secret = registry_services.integration_key_issue(integration=integration, by=None)
    return integration.app, key, secret


def subscribe_api(client, key, secret, webhook_url):
    from tests.portal.notices.helpers import signed_post

    return signed_post(
        client,
        "/api/v1/platform/notice-subscription",
        {"webhook_url": webhook_url, "event_types": ["reassigned"]},
        key,
        secret,
        method="put",
    )


def notice_to(webhook_url) -> NoticeDelivery:
    """A notice waiting for an app that subscribed with this webhook URL (an app without lookups)."""

    app = MemberAppFactory(supports_lookup=False)
    subscription, _secret = services.notice_subscription_save(
        app=app, webhook_url=webhook_url, event_types=["reassigned"]
    )
    return NoticeDelivery.objects.create(
        subscription=subscription,
        after_event_id=0,
        up_to_event_id=0,
        event_types="reassigned",
        numbers=1,
        max_attempts=3,
    )


def send_notice(delivery) -> NoticeAttempt:
    from django.utils import timezone

    NoticeDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())  # due now, not after a backoff
    notices.run([str(delivery.pk)])  # what a worker runs: the fan-out's aiohttp session
    return NoticeAttempt.objects.filter(delivery=delivery).latest("number")


def run_lookup(phone: str, app) -> LookupQuery:
    """A citizen's lookup, its calls made in this process as a worker makes them (aiohttp); the app's row."""

    verification_code_send(phone_number=phone, client_ip="127.0.0.1")
    lookup, _token = lookup_start(phone_number=phone, id_last6="40213X", code=latest_code())
    fanout.run(list(lookup.queries.values_list("pk", flat=True)))
    return lookup.queries.get(app=app)


def check_endpoint(client, app):
    """Its staff press "Test my endpoint" (httpx, in the web process)."""
    staff = platform_staff(app.organisation)
    client.force_login(staff)
    client.cookies["django_language"] = "en"
    response = client.post(reverse("staff_app_check_endpoint", args=[app.pk]))
    assert response.status_code == 200
    return response.context["check_points"], response.content.decode()


# --- the rule -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address, kind",
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.0.1", "private"),
        ("fd00:ec2::254", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("100.100.100.200", "shared"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("198.18.0.1", "reserved"),
        ("192.0.2.1", "documentation"),
        # IPv6 forms that reach an IPv4 address: judged by the address they reach
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::a00:1", "private"),
        ("2002:7f00:1::1", "loopback"),
    ],
)
def test_attack_non_public_addresses_are_refused_ipv4_and_ipv6(address, kind):
    with NO_LOOPBACK:
        assert policy.address_kind(address) == kind
        with pytest.raises(policy.Refused):
            policy.check_address(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2001:4860:4860::8888", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address):
    with NO_LOOPBACK:
        policy.check_address(address)


def test_the_setting_allows_listed_networks_and_nothing_else():
    with override_settings(OUTBOUND_ALLOWED_NETWORKS=["127.0.0.0/8"]):
        policy.check_address("127.0.0.1")
        policy.check_address("::ffff:127.0.0.1")
        for address in ("::1", "10.0.0.1", "169.254.169.254"):
            with pytest.raises(policy.Refused):
                policy.check_address(address)


def test_production_requires_https_and_allows_no_network_whatever_the_environment_says():
    from tests.portal.core.test_settings import manage, production_env

    result = manage(
        "shell",
        "-c",
        "from django.conf import settings as s; print(s.OUTBOUND_REQUIRE_HTTPS, s.OUTBOUND_ALLOWED_NETWORKS)",
        env=production_env(OUTBOUND_REQUIRE_HTTPS="false"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True []"


# --- refused when saved -------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_attack_internal_base_url_is_refused_at_save(client, url):
    with NO_LOOPBACK:
        app, response = admin_saves_integration(client, url)
    errors = response.context["adminform"].form.errors
    assert "base_url" in errors and "公网地址" in errors["base_url"][0]  # the portal calls only public addresses
    assert not Integration.objects.filter(app=app).exists()
    assert f'value="{url}"' in response.content.decode()  # what was typed stays


@pytest.mark.django_db
@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_attack_internal_webhook_url_is_refused_at_save_through_the_api(client, url):
    _app, key, secret = member_with_key("https://member.example")
    with NO_LOOPBACK:
        answer = subscribe_api(client, key, secret, url)
    assert answer.status_code == 400, answer.content
    assert "公网地址" in json.dumps(answer.json(), ensure_ascii=False)
    assert not NoticeSubscription.objects.exists()


@pytest.mark.django_db
def test_attack_internal_webhook_url_is_refused_in_the_console_in_the_users_language(client):
    app, *_ = member_with_key("https://member.example")
    client.force_login(platform_staff(app.organisation))
    with NO_LOOPBACK:
        page = client.post(
            reverse("staff_app_notices", args=[app.pk]),
            {"webhook_url": "http://169.254.169.254/latest/meta-data/", "event_types": ["reassigned"], "enabled": "on"},
        )
    text = page.content.decode()
    assert "链路本地" in text and "公网地址" in text  # zh-hans first
    assert 'value="http://169.254.169.254/latest/meta-data/"' in text
    assert not NoticeSubscription.objects.exists()


@pytest.mark.django_db
def test_a_public_name_and_the_allowed_simulator_network_are_accepted(client, dns):
    dns["member-api.test"] = "93.184.216.34"
    app, response = admin_saves_integration(client, "https://member-api.test/v1")
    assert Integration.objects.filter(app=app).exists(), response.context and response.context["adminform"].form.errors
    app, response = admin_saves_integration(client, "http://127.0.0.1:8900/app01")  # test settings allow 127.0.0.0/8
    assert Integration.objects.filter(app=app).exists()


@pytest.mark.django_db
def test_production_refuses_plain_http_at_save(client):
    with override_settings(OUTBOUND_REQUIRE_HTTPS=True):
        app, response = admin_saves_integration(client, "http://api.example.com/")
    assert "https://" in response.context["adminform"].form.errors["base_url"][0]
    assert not Integration.objects.filter(app=app).exists()


# --- refused when connecting --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_attack_name_that_starts_resolving_to_loopback_after_save_is_refused_at_connect_time(
    client, endpoint, dns, no_stray_tasks
):
    """DNS rebinding: the name resolved to a public address when it was saved, and resolves to the
    portal's own loopback when the portal calls. Every path refuses, and the endpoint on loopback
    receives nothing; with loopback allowed the same name does reach it, so what is checked is the
    address the connection really uses."""
    internal = endpoint()
    name = f"rebind-{uuid.uuid4().hex[:8]}.test"
    dns[name] = "93.184.216.34"
    app, response = admin_saves_integration(client, f"http://{name}:{internal.port}/member")
    assert Integration.objects.filter(app=app).exists(), response.context["adminform"].form.errors
    delivery = notice_to(f"http://{name}:{internal.port}/hook")

    dns[name] = "127.0.0.1"
    with NO_LOOPBACK:
        points, page = check_endpoint(client, app)  # httpx, in the web process
        attempt = send_notice(delivery)  # aiohttp, as a worker sends notices
        query = run_lookup("13900005555", app)  # aiohttp, the lookup fan-out
        with pytest.raises(protocol.DestinationRefused):  # httpx, as the identity check and unbind pushes call
            protocol.post_signed(
                f"http://{name}:{internal.port}/member/v1/unbind", {}, keys=protocol.new_secret(), timeout_s=2
            )

    assert [(p.name, p.passed) for p in points] == [("Reachable", False)]
    assert f"{name} resolves to a loopback address" in page
    assert attempt.status_code is None and attempt.error.startswith(
        f"refused by the outbound policy: {name} resolves to a loopback"
    )
    assert query.state == "error" and "refused by the outbound policy" in query.error
    assert internal.received == []

    send_notice(delivery)  # loopback allowed again (development): the same name reaches the endpoint
    assert internal.received == ["/hook"]


@pytest.mark.django_db(transaction=True)
def test_attack_ip_literal_is_refused_at_connect_time_even_if_stored_before_the_policy(endpoint, no_stray_tasks):
    """A URL stored without the save-time check (written before it, or by a script): the connection
    is still refused."""
    internal = endpoint()
    delivery = notice_to(f"{internal.url}/hook")
    with NO_LOOPBACK:
        attempt = send_notice(delivery)
        with pytest.raises(protocol.DestinationRefused):
            protocol.post_signed(f"{internal.url}/v1/unbind", {}, keys=protocol.new_secret(), timeout_s=2)
    assert "127.0.0.1 is a loopback address" in attempt.error
    assert internal.received == []


@pytest.mark.django_db
def test_production_refuses_plain_http_at_connect_time(endpoint, no_stray_tasks):
    member = endpoint()
    delivery = notice_to(f"{member.url}/hook")
    with override_settings(OUTBOUND_REQUIRE_HTTPS=True):
        attempt = send_notice(delivery)
        with pytest.raises(protocol.DestinationRefused):
            protocol.post_signed(f"{member.url}/v1/unbind", {}, keys=protocol.new_secret(), timeout_s=2)
    assert "https://" in attempt.error
    assert member.received == []


# --- redirects ------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_attack_redirect_to_loopback_is_not_followed(client, endpoint, no_stray_tasks):
    """A member's endpoint answers 307 to a second server on loopback (a 307 would re-send the POST and
    its signing headers). No client follows it: the second server receives nothing, and the 3xx is
    recorded as the member's error."""
    second = endpoint()
    member = endpoint(status=307, headers={"Location": f"{second.url}/steal"})
    app, *_ = member_with_key(f"{member.url}/member")

    points, _page = check_endpoint(client, app)
    reply = protocol.post_signed(f"{member.url}/member/v1/unbind", {}, keys=protocol.new_secret(), timeout_s=2)
    attempt = send_notice(notice_to(f"{member.url}/hook"))
    query = run_lookup("13900006666", app)

    assert second.received == []
    assert len(member.received) == 4
    assert reply.status == 307 and reply.reason == "HTTP 307 (redirects are not followed)"
    assert ("Answers without a redirect", False) in [(p.name, p.passed) for p in points]
    assert attempt.status_code == 307 and attempt.error == "HTTP 307 (redirects are not followed)"
    assert query.state == "error" and query.error == "HTTP 307 (redirects are not followed)"


# --- what is recorded -------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_attack_an_internal_pages_body_is_never_stored_or_shown(client, endpoint, no_stray_tasks):
    """Whatever an endpoint answers, staff see its status, duration and the portal's reason, never its
    bytes: the portal is not a reader of pages a member points it at."""
    secret_page = b"root:x:0:0:SECRET-INTERNAL-PAGE"
    refusing = endpoint(status=403, body=secret_page)
    garbage = endpoint(status=200, body=secret_page)
    app, *_ = member_with_key(f"{refusing.url}/member")

    attempt = send_notice(notice_to(f"{refusing.url}/hook"))
    query = run_lookup("13900007777", app)
    _points, page = check_endpoint(client, app)
    Integration.objects.filter(app=app).update(base_url=f"{garbage.url}/member")
    query_garbage = run_lookup("13900008888", app)

    assert attempt.status_code == 403 and attempt.error == "HTTP 403" and attempt.duration_ms >= 0
    assert query.error == "HTTP 403"
    assert query_garbage.state == "error" and query_garbage.error.startswith(
        "missing signature headers"
    )  # the reason, not the page
    client.force_login(StaffUserFactory(is_superuser=True))
    shown = [
        page,
        client.get(reverse("staff_notice_detail", args=[attempt.delivery_id])).content.decode(),
        client.get(reverse("staff_app_queries", args=[app.pk])).content.decode(),
    ]
    stored = [
        attempt.error,
        query.error,
        query_garbage.error,
        Integration.objects.get(app=app).last_error,
        *NoticeDelivery.objects.values_list("last_error", flat=True),
    ]
    assert not any("SECRET" in text for text in shown + stored)
    assert "HTTP 403" in shown[1] and "HTTP 403" in shown[2]
