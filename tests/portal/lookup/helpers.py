"""Helpers for lookup tests: member apps at the platform simulator, and reading SMS codes."""

import re
import time

from portal.devtools.demo import demo_key_secret
from portal.lookup.models import Lookup
from portal.sms.models import SmsMessage
from registry import services as registry_services
from tests.registry.factories import IntegrationFactory, MemberAppFactory


def simulated_apps(simulator_url: str, slugs: list[str], timeout_ms: int = 1000, **app_fields):
    apps = []
    for slug in slugs:
        app = MemberAppFactory(name=f"模拟{slug}", **app_fields)
        integration = IntegrationFactory(app=app, base_url=f"{simulator_url}/{slug}", timeout_ms=timeout_ms)
        registry_services.integration_key_issue(
            integration=integration, by=None, key_id=f"demo_{slug}", secret=demo_key_secret(slug)
        )
        apps.append(app)
    return apps


def latest_code() -> str:
    message = SmsMessage.objects.filter(purpose="verification_code").order_by("-pk").first()
    return re.search(r"\d{6}", message.text).group(0)


def wait_for(check, *, timeout: float = 20.0, what: str = "it"):
    """Poll `check` until it returns something true, and return that."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def wait_until_completed(lookup_id, timeout: float = 20.0) -> Lookup:
    deadline = time.time() + timeout
    while time.time() < deadline:
        lookup = Lookup.objects.get(pk=lookup_id)
        if lookup.state == "completed":
            return lookup
        time.sleep(0.05)
    states = list(Lookup.objects.get(pk=lookup_id).queries.values_list("app__name", "state", "error"))
    raise AssertionError(f"lookup not completed within {timeout}s: {states}")


def page_text(response) -> str:
    """A page's HTML without its CSRF tokens (masked anew on every response), to compare two answers."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())
