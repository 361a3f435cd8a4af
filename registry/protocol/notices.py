"""Recycled-number notices: CloudEvents 1.0 in structured mode, signed like every message."""

from __future__ import annotations

import json
from collections.abc import Iterable

from registry.protocol.signing import ProtocolError, encode, sign

NOTICE_SPECVERSION = "1.0"


NOTICE_SOURCE = "urn:number-portal:number-events"


NOTICE_TYPE = "cn.number-portal.number-events.v1"


NOTICE_CONTENT_TYPE = "application/cloudevents+json"


NOTICE_MAX_NUMBERS = 1000  # events a notice carries at most


NOTICE_MAX_BODY_BYTES = 1024 * 1024  # what a member must accept: 1,000 events are about 150 KiB


def notice_data(*, notice_events: list[dict]) -> bytes:
    """The `data` of notices carrying these events (the pull feed's serialisation), encoded once and
    shared by every app that takes the same events."""
    return encode({"events": notice_events})


def notice_body(*, notice_id: str, time_iso: str, data: bytes, report_path: str) -> bytes:
    """One notice as a CloudEvents 1.0 JSON document: `id, source, type, specversion, time,
    datacontenttype, data` plus the extension attribute `reportpath` (where the member reports back).
    `data` is already encoded (notice_data); it is spliced in, not encoded again per app."""
    head = encode(
        {
            "datacontenttype": "application/json",
            "id": notice_id,
            "reportpath": report_path,
            "source": NOTICE_SOURCE,
            "specversion": NOTICE_SPECVERSION,
            "time": time_iso,
            "type": NOTICE_TYPE,
        }
    )
    return b'{"data":' + data + b"," + head[1:]


def notice_headers(body: bytes, *, notice_id: str, keys: str | Iterable[str]) -> dict[str, str]:
    """A notice's webhook-id is its CloudEvent id: every retry carries the same one, so a member takes
    it once (its idempotency key)."""
    return {"Content-Type": NOTICE_CONTENT_TYPE, **sign(body, keys=keys, msg_id=notice_id)}


def parse_notice(body: bytes) -> dict:
    """The member's side (the simulator uses it): a notice must be a CloudEvent of our type whose data
    holds a list of events; anything else raises ProtocolError."""
    if len(body) > NOTICE_MAX_BODY_BYTES:
        raise ProtocolError("notice over the cap")
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise ProtocolError(f"notice is not JSON: {error}") from error
    required = {"id", "source", "type", "specversion", "time", "datacontenttype", "data"}
    if not isinstance(event, dict) or not required <= set(event):
        raise ProtocolError(f"a notice is a CloudEvent with {', '.join(sorted(required))}")
    if event["specversion"] != NOTICE_SPECVERSION or event["type"] != NOTICE_TYPE:
        raise ProtocolError("not a number-events CloudEvent 1.0")
    if not isinstance(event["data"], dict) or not isinstance(event["data"].get("events"), list):
        raise ProtocolError('data must be {"events": [...]}')
    return event


def notice_report(*, bindings_removed: int) -> dict:
    """What a member sends back per notice: `POST {portal}{reportpath}` with this body, signed with its
    integration key."""
    return {"bindings_removed": bindings_removed}


def parse_notice_report(payload) -> int:
    if not isinstance(payload, dict) or set(payload) != {"bindings_removed"}:
        raise ProtocolError('the body must be exactly {"bindings_removed": <count>}')
    value = payload["bindings_removed"]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10_000_000:
        raise ProtocolError("bindings_removed must be a whole number from 0 to 10,000,000")
    return value
