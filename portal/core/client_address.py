"""The client's address, read one way for every limit (SMS codes, allauth's login limits)."""

import ipaddress

from django.conf import settings


def client_address(request) -> str:
    """REMOTE_ADDR; behind TRUSTED_PROXY_COUNT proxies of ours, the rightmost X-Forwarded-For hop they
    did not add. Each proxy appends the address it was reached from, so everything left of that hop
    is whatever the client chose to send and is never read. A header with fewer hops than trusted
    proxies did not come through all of them: REMOTE_ADDR then."""
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if len(hops) < count:
        return remote
    try:
        return str(ipaddress.ip_address(hops[-count]))
    except ValueError:  # not an address: our proxy would not write that
        return remote
