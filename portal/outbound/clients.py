"""The HTTP clients every call to a member goes through, aiohttp (the workers' fan-out and notices)
and httpx (synchronous calls: identity check, unbind push, "test my endpoint"), both held to the policy
(`portal.outbound.policy`) where it cannot be dodged: at connect time.

- aiohttp: a resolver that looks names up through the policy (each address checked), and a socket
  factory that checks the address of every socket just before it connects (IP literals never reach a
  resolver). Requests are sent with redirects off (`registry.protocol.apost`).
- httpx: a network backend under httpx's connection pool that resolves through the policy and connects
  to the checked address itself (TLS still verifies, and SNI names, the URL's host). Redirects are off.

Neither client reads proxy settings from the environment: a proxy would be another way around the
check. Nothing here copies a member's answer into an error: `failure_reason` and `status_reason` are
the portal's own words.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass

import aiohttp
import aiohttp.abc
import httpcore
import httpx

from portal.outbound.policy import Refused, check_address, resolve

# --- aiohttp --------------------------------------------------------------------------------------------


class PolicyResolver(aiohttp.abc.AbstractResolver):
    """The system lookup (in a thread, as aiohttp's default resolver does, and through the policy's
    `getaddrinfo`, which tests can steer), every address checked."""

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict]:
        infos = await asyncio.get_running_loop().run_in_executor(None, resolve, host, port, family)
        return [
            {
                "hostname": host,
                "host": sockaddr[0],
                "port": sockaddr[1],
                "family": fam,
                "proto": proto,
                "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            }
            for fam, _type, proto, _name, sockaddr in infos
            if fam in (socket.AF_INET, socket.AF_INET6)
        ]

    async def close(self) -> None:
        pass


def _checked_socket(addr_info) -> socket.socket:
    """aiohttp's socket factory: the last gate, on the very address the socket is about to connect to."""
    family, type_, proto, _name, sockaddr = addr_info
    check_address(sockaddr[0])
    return socket.socket(family=family, type=type_, proto=proto)


def aiohttp_session(**connector_options) -> aiohttp.ClientSession:
    """A ClientSession held to the policy (call it inside the event loop that will use it)."""
    connector = aiohttp.TCPConnector(resolver=PolicyResolver(), socket_factory=_checked_socket, **connector_options)
    return aiohttp.ClientSession(connector=connector, trust_env=False)


# --- httpx ------------------------------------------------------------------------------------------------


class PolicyBackend(httpcore.NetworkBackend):
    """httpcore's synchronous backend, connecting only to addresses the policy allows: it resolves the
    name itself and connects to the checked address (httpcore still does TLS for the URL's host)."""

    def __init__(self):
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            infos = resolve(host, port)
        except Refused as refused:
            raise httpcore.ConnectError(refused.reason) from refused
        except (socket.gaierror, UnicodeError) as error:
            raise httpcore.ConnectError(f"cannot resolve {host}") from error
        last_error = None
        for _family, _type, _proto, _name, sockaddr in infos:
            try:
                return self._inner.connect_tcp(sockaddr[0], port, timeout, local_address, socket_options)
            except httpcore.ConnectError as error:  # the name's next address, as create_connection does
                last_error = error
        raise last_error or httpcore.ConnectError(f"no address for {host}")

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("the portal does not call members over unix sockets")

    def sleep(self, seconds):
        self._inner.sleep(seconds)


def httpx_client(*, timeout_s: float) -> httpx.Client:
    """An httpx.Client held to the policy, redirects off, no proxies from the environment."""
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx offers no network-backend option; its transport is a thin wrapper around this pool
    # (httpx 0.28, pinned), so the pool is replaced by the same one on the policy's backend.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        network_backend=PolicyBackend(),
    )
    return httpx.Client(transport=transport, timeout=timeout_s, follow_redirects=False, trust_env=False)


# --- what is recorded ------------------------------------------------------------------------------------


def refusal(error: BaseException | None) -> Refused | None:
    """The policy's refusal behind a client error (aiohttp and httpx wrap it), if that is what it was."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, Refused):
            return error
        seen.add(id(error))
        error = getattr(error, "os_error", None) or error.__cause__ or error.__context__
    return None


def status_reason(status: int) -> str:
    """A member's HTTP status as recorded; a redirect is the member's error (never followed). Recorded
    errors are English, as all of them are."""
    if 300 <= status < 400:
        return f"HTTP {status} (redirects are not followed)"
    return f"HTTP {status}"


def failure_reason(error: BaseException) -> str:
    """Why a call got no answer, as recorded: the portal's own words, never what the other side sent."""
    refused = refusal(error)
    if refused is not None:
        return f"refused by the outbound policy: {refused.recorded}"
    if isinstance(error, asyncio.TimeoutError) or "Timeout" in type(error).__name__:
        return "timed out"
    return f"could not connect ({type(error).__name__})"


@dataclass(frozen=True)
class Failure:
    """What is recorded of an outbound call that raised."""

    timed_out: bool
    reason: str
    retryable: bool  # the network failed: another try may get through
    unexpected: bool = False  # a bug or a surprise, worth a stack trace in the log


def call_failure(error: BaseException, *, timeout_s: float) -> Failure:
    """The one mapping from what a call to a member raised to what its row records (lookups and notices)."""
    if isinstance(error, (asyncio.TimeoutError, httpx.TimeoutException)):
        return Failure(True, f"no answer within {int(timeout_s * 1000)} ms", retryable=False)
    if isinstance(error, (aiohttp.ClientError, httpx.TransportError)):
        return Failure(False, failure_reason(error), retryable=True)
    reason = getattr(error, "reason", None)  # the protocol's own errors; a refused address would be refused again
    if isinstance(reason, str) and reason:
        return Failure(False, reason, retryable=False)
    return Failure(False, f"unexpected: {error.__class__.__name__}", retryable=False, unexpected=True)
