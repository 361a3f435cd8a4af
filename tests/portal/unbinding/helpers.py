"""Helpers for unbinding tests: a number the simulator gives previous-holder accounts at given apps,
and a completed lookup of it."""

from portal.devtools.simulator import simulated_accounts, simulated_holder_id_last6
from portal.lookup import services
from portal.verification.services import verification_code_send
from tests.portal.lookup.helpers import latest_code, wait_until_completed


def number_with_previous_accounts(slugs: list[str], start: int = 0) -> str:
    """A number for which every one of these simulated apps answers an account under another real
    name (so the portal shows it as likely the previous holder's)."""
    for i in range(start, start + 5000):
        phone = f"1390000{i:04d}"
        holder = simulated_holder_id_last6(phone)
        if all(
            any(a["id_last6"] not in (None, holder) for a in simulated_accounts(s, "+86" + phone, None)) for s in slugs
        ):
            return phone
    raise AssertionError(f"no number found for {slugs}")


def completed_lookup(phone: str, id_last6: str | None = None):
    """A lookup by the number's holder: by default with the ID characters the simulator's records hold."""
    id_last6 = id_last6 or simulated_holder_id_last6(phone)
    verification_code_send(phone_number=phone, client_ip="127.0.0.1")
    lookup, token = services.lookup_start(phone_number=phone, id_last6=id_last6, code=latest_code())
    return wait_until_completed(lookup.pk), token
