"""The outbound policy: which destinations the portal may call when a member chose the URL.

Members choose the URLs the portal calls (an integration's base URL, a notice webhook). Without a
policy any member could aim the portal's workers at its own network (127.0.0.1, 10.x, the cloud
metadata service at 169.254.169.254) and read what answers. So:

- a URL's scheme must be https (`OUTBOUND_REQUIRE_HTTPS`, always on in production);
- every address the portal connects to must be public: loopback, private, link-local (cloud metadata),
  shared (CGNAT, where Alibaba Cloud's metadata service lives), multicast, reserved, documentation and
  IPv6 forms that embed such an IPv4 address are refused, unless `OUTBOUND_ALLOWED_NETWORKS` lists
  them (development and tests allow 127.0.0.0/8 for the simulator; production none by default).

`check_address` is the one rule. It runs when a URL is saved (`validate_url`, a clear error in forms
and the API) and again on the addresses a connection is about to use (`resolve`, called by the
clients in `portal.outbound.clients`), so a name that starts resolving to 127.0.0.1 after it was saved
(DNS rebinding) gains nothing.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext_lazy as _

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# The system resolver. Every lookup of a member's host name goes through this name, so a test can
# make a name resolve where it wants (and change its mind, as a rebinding DNS server would).
getaddrinfo = socket.getaddrinfo


class Refused(OSError):
    """The policy refuses this destination. An OSError, so the HTTP clients treat it as a connection
    that could not be made. `reason` is in the active language (for the form or API answer at save
    time); `recorded` is the same in English, for the rows staff read later (as every recorded error)."""

    def __init__(self, message, **params):
        self.message, self.params = message, params
        super().__init__(self.recorded)

    @property
    def reason(self) -> str:
        return str(self.message) % {k: str(v) for k, v in self.params.items()}

    @property
    def recorded(self) -> str:
        with translation.override("en"):
            return self.reason


_KINDS = {
    "unspecified": _("an unspecified"),
    "loopback": _("a loopback"),
    "private": _("a private network"),
    "shared": _("a shared (carrier-grade NAT) network"),
    "link-local": _("a link-local (cloud metadata)"),
    "multicast": _("a multicast"),
    "reserved": _("a reserved"),
    "documentation": _("a documentation"),
    "not public": _("a non-public"),
}

# Named so that the refusal says what the address is; anything else that is not globally routable
# (ipaddress's is_global) is refused as "not public".
_BLOCKED = [
    (ipaddress.ip_network(network), kind)
    for network, kind in [
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "reserved"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "reserved"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/8", "reserved"),
        ("64:ff9b:1::/48", "private"),
        ("100::/64", "reserved"),
        ("2001::/23", "reserved"),
        ("2001:db8::/32", "documentation"),
        ("fc00::/7", "private"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "private"),
        ("ff00::/8", "multicast"),
    ]
]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@functools.lru_cache(maxsize=8)
def _networks(listed: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(n.strip(), strict=False) for n in listed if n.strip())


def allowed_networks():
    """The networks `OUTBOUND_ALLOWED_NETWORKS` allows anyway (read each time: tests override it)."""
    return _networks(tuple(settings.OUTBOUND_ALLOWED_NETWORKS))


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4), which is what gets reached."""
    if address.version != 6:
        return None
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def address_kind(address: Address | str) -> str | None:
    """Why the portal must not connect to this address ("loopback", "private", ...), or None if it may."""
    address = ipaddress.ip_address(address)
    if any(address in network for network in allowed_networks() if network.version == address.version):
        return None
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return address_kind(embedded)
    for network, kind in _BLOCKED:
        if network.version == address.version and address in network:
            return kind
    return None if address.is_global and not address.is_multicast else "not public"


def check_address(address: Address | str, *, host: str | None = None) -> None:
    """The one rule, at save time and at connect time: raise Refused unless the portal may connect to
    this address. `host` is the name that resolved to it, if any (the message names it, never the
    address an internal name resolves to)."""
    kind = address_kind(address)
    if kind is None:
        return
    if host is None or _is_ip_literal(host):
        raise Refused(
            _("%(address)s is %(kind)s address; the portal calls only public addresses."),
            address=address,
            kind=_KINDS[kind],
        )
    raise Refused(
        _("%(host)s resolves to %(kind)s address; the portal calls only public addresses."),
        host=host,
        kind=_KINDS[kind],
    )


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def resolve(host: str, port: int, family: int = socket.AF_UNSPEC) -> list[tuple]:
    """Resolve a host for a connection and check every address it gives: getaddrinfo's tuples, all of
    them allowed, or Refused. A name with one forbidden address among public ones is refused whole
    (it is someone's trick, not a member's endpoint). socket.gaierror passes through."""
    infos = getaddrinfo(host.strip("[]"), port, family, socket.SOCK_STREAM)
    for info in infos:
        check_address(info[4][0], host=host)
    return infos


def check_scheme(url: str) -> None:
    """http or https, and https only when `OUTBOUND_REQUIRE_HTTPS` (production)."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "https" or (scheme == "http" and not settings.OUTBOUND_REQUIRE_HTTPS):
        return
    if settings.OUTBOUND_REQUIRE_HTTPS:
        raise Refused(_("The address must start with https://."))
    raise Refused(_("The address must start with https:// (or http:// in development)."))


def check_url(url: str) -> None:
    """What runs when a member's URL is saved: the scheme, then the addresses its host resolves to now.
    A name that does not resolve yet is accepted: nothing can be judged, and every connection checks
    again."""
    check_scheme(url)
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise Refused(_("Enter a valid web address.")) from None
    if not host:
        raise Refused(_("Enter a valid web address."))
    port = port or (443 if parts.scheme.lower() == "https" else 80)
    if _is_ip_literal(host):
        check_address(host)
        return
    try:
        resolve(host, port)
    except (socket.gaierror, UnicodeError):
        return


def validate_url(url: str) -> None:
    """check_url as a Django validator: a ValidationError in the user's language."""
    try:
        check_url(url)
    except Refused as refusal:
        raise ValidationError(refusal.reason, code="outbound_refused") from None
