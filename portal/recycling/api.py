import base64
import json
import math
import re
from datetime import date, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.core.api import error_response, refusal_response
from portal.core.refusals import Refusal
from portal.core.serializers import RefusalSerializer
from portal.recycling import selectors, services
from portal.recycling import serializers as s
from portal.recycling.checks import (
    NUMBER_CHECKS_MAX_BATCH,
    CheckClient,
    number_check_rate_exceeded,
    number_checks,
    number_recycling_check,
)
from portal.recycling.models import NumberCheckAudit
from registry.api.authentication import IsActiveCarrier
from registry.api.base import MemberAPIView
from registry.selectors import access_token_grant


class NumberEventsView(MemberAPIView):
    """Carriers and MVNOs report cancelled, re-assigned and ported numbers, up to 10,000 a batch."""

    permission_classes = [IsActiveCarrier]

    @extend_schema(
        request=s.NumberEventBatchSerializer,
        responses={
            200: s.NumberEventResultSerializer,
            400: RefusalSerializer,
            401: OpenApiResponse(description="bad signature"),
            403: OpenApiResponse(description="not an active carrier or MVNO"),
        },
        summary="Report number events (signed like protocol v2 with the carrier's key)",
    )
    def post(self, request):
        try:  # the signed bytes, parsed once (DRF's parser would decode a 1 MB batch a second time)
            body = json.loads(request.body)
        except ValueError:
            body = None
        events = body.get("events") if isinstance(body, dict) else None
        if not isinstance(events, list):
            return error_response("invalid", 'the body must be {"events": [...]}')
        try:
            result = services.number_events_ingest(carrier=request.user.organisation, events=events)
        except Refusal as refusal:
            return refusal_response(refusal)
        return Response(s.NumberEventResultSerializer(result).data)


X_CORRELATOR = re.compile(r"^[a-zA-Z0-9\-_:;./<>{}]{0,256}$")


E164 = re.compile(r"^\+[1-9][0-9]{4,14}$")


CAMARA_SCOPE = "number-recycling:check"


class NumberRecyclingCheckView(APIView):
    """Has the subscriber of a number changed after a date? Bearer tokens from /oauth/token."""

    authentication_classes: list = []  # CAMARA's error format for every authentication failure, below
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]  # JSON only, as the spec: no negotiation among renderers per call
    parser_classes = [JSONParser]  # the body is read once, below

    def error(self, status_code: int, code: str, message: str, correlator: str | None) -> Response:
        return self.answer({"status": status_code, "code": code, "message": message}, status_code, correlator)

    def answer(self, body: dict, status_code: int, correlator: str | None) -> Response:
        response = Response(body, status=status_code)
        if correlator:
            response["x-correlator"] = correlator
        return response

    @extend_schema(
        request={
            "application/json": {
                "type": "object",
                "required": ["specifiedDate"],
                "properties": {
                    "phoneNumber": {"type": "string", "pattern": r"^\+[1-9][0-9]{4,14}$"},
                    "specifiedDate": {"type": "string", "format": "date"},
                },
            }
        },
        responses={
            200: {
                "type": "object",
                "required": ["phoneNumberRecycled"],
                "properties": {"phoneNumberRecycled": {"type": "boolean"}},
            },
            (400, "application/json"): {"type": "object"},
            401: OpenApiResponse(description="UNAUTHENTICATED"),
            403: OpenApiResponse(description="PERMISSION_DENIED"),
            422: OpenApiResponse(description="MISSING_IDENTIFIER, SERVICE_NOT_APPLICABLE"),
            429: OpenApiResponse(description="TOO_MANY_REQUESTS: over the client's checks a second (Retry-After)"),
        },
        summary="CAMARA Number Recycling v0.2: has the subscriber changed after the date?",
        tags=["number-recycling"],
    )
    def post(self, request):
        correlator = request.headers.get("x-correlator")
        if correlator is not None and not X_CORRELATOR.match(correlator):
            return self.error(400, "INVALID_ARGUMENT", "x-correlator does not match its schema.", None)
        try:
            client = self._client(request)
            phone, specified_date = self._arguments(request)
            recycled = number_recycling_check(phone_number=phone, since=specified_date, by=client)
            if recycled is None:
                raise CamaraRefusal(
                    422, "SERVICE_NOT_APPLICABLE", "The service is not available for the provided phone number."
                )
        except CamaraRefusal as refusal:
            response = self.error(refusal.status, refusal.code, refusal.message, correlator)
            if refusal.retry_after:
                response["Retry-After"] = str(refusal.retry_after)
            return response
        return self.answer({"phoneNumberRecycled": recycled}, 200, correlator)

    @staticmethod
    def _client(request) -> CheckClient:
        """Who calls, from the bearer token: authenticated, allowed, and within its rate limit."""
        header = request.headers.get("Authorization", "")
        grant = access_token_grant(token=header[7:]) if header.startswith("Bearer ") else None
        if grant is None:
            raise CamaraRefusal(
                401, "UNAUTHENTICATED", "Request not authenticated due to missing, invalid, or expired credentials."
            )
        if grant["expires_at"] <= timezone.now():
            raise CamaraRefusal(
                401, "UNAUTHENTICATED", "The access token has expired. A new authentication is required."
            )
        if CAMARA_SCOPE not in grant["scopes"] or grant["revoked"]:
            raise CamaraRefusal(
                403, "PERMISSION_DENIED", "Client does not have sufficient permissions to perform this action."
            )
        client = CheckClient(grant["organisation_id"], grant["integration_id"], grant["key_id"])
        wait = number_check_rate_exceeded(by=client, api=NumberCheckAudit.Api.CAMARA)
        if wait is not None:
            raise CamaraRefusal(
                429,
                "TOO_MANY_REQUESTS",
                "Either out of resource quota or reaching rate limiting.",
                retry_after=max(1, math.ceil(wait)),
            )
        return client

    @staticmethod
    def _arguments(request) -> tuple[str, date]:
        """phoneNumber and specifiedDate, strictly as CAMARA's schema says."""
        try:
            body = json.loads(request.body or b"")
        except ValueError:
            body = None
        if not isinstance(body, dict) or not body:
            raise CamaraRefusal(
                400, "INVALID_ARGUMENT", "Client specified an invalid argument, request body or query param."
            )
        unknown = set(body) - {"phoneNumber", "specifiedDate"}
        specified = body.get("specifiedDate")
        try:
            specified_date = (
                date.fromisoformat(specified) if isinstance(specified, str) and len(specified) == 10 else None
            )
        except ValueError:
            specified_date = None
        if unknown or specified_date is None:
            raise CamaraRefusal(
                400, "INVALID_ARGUMENT", "specifiedDate must be a date, YYYY-MM-DD; no other properties are allowed."
            )
        phone = body.get("phoneNumber")
        if phone is not None and (not isinstance(phone, str) or not E164.match(phone)):
            raise CamaraRefusal(400, "INVALID_ARGUMENT", "phoneNumber must be in E.164 form, e.g. +8613812345678.")
        if specified_date > timezone.localdate():
            raise CamaraRefusal(400, "OUT_OF_RANGE", "specifiedDate cannot be in the future.")
        if phone is None:  # two-legged tokens identify no number
            raise CamaraRefusal(
                422,
                "MISSING_IDENTIFIER",
                "The phone number cannot be deducted from the access token and it is not included in the request.",
            )
        return phone, specified_date


class CamaraRefusal(Exception):
    """A CAMARA error answer: its status, code and message (CAMARA's exact error model)."""

    def __init__(self, status: int, code: str, message: str, *, retry_after: int | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after


class NumberChecksView(MemberAPIView):
    """Bulk recycling check for members (as the US reassigned-numbers database answers): up to 1,000
    `{phone_number, date}` a call, each answered yes / no / no_data."""

    @extend_schema(
        request=s.NumberCheckBatchSerializer,
        responses={200: s.NumberCheckResultSerializer, 400: RefusalSerializer, 429: RefusalSerializer},
        summary="Were these numbers re-assigned after these dates? (signed like protocol v2)",
    )
    def post(self, request):
        checks = request.data.get("checks") if isinstance(request.data, dict) else None
        if not isinstance(checks, list) or len(checks) > NUMBER_CHECKS_MAX_BATCH:
            detail = f'the body must be {{"checks": [...]}} with at most {NUMBER_CHECKS_MAX_BATCH} items'
            return error_response("invalid", detail)
        system = request.user
        client = CheckClient(system.organisation_id, system.key.integration_id, system.key.key_id)
        wait = number_check_rate_exceeded(by=client, api=NumberCheckAudit.Api.BULK, numbers=len(checks))
        if wait is not None:
            retry_at = timezone.now() + timedelta(seconds=wait)
            response = error_response(
                "rate_limited",
                _("Too many numbers checked this minute. Try again after %(seconds)d seconds.")
                % {"seconds": math.ceil(wait)},
                status=429,
                retry_at=retry_at,
            )
            response["Retry-After"] = str(max(1, math.ceil(wait)))
            return response
        # plain data in NumberCheckResultSerializer's shape: serialising 1,000 answers field by field cost a third of
        # the call
        return Response({"results": number_checks(checks=checks, by=client)})


class NumberEventFeedView(MemberAPIView):
    """The pull feed of carriers' number events for members without webhooks: a stable cursor
    (`next_cursor`), at most `limit` events a page (default 500, at most 5,000)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("cursor", str, description="next_cursor of the previous page; empty for the start"),
            OpenApiParameter("limit", int, description="events a page, 1 to 5000 (default 500)"),
            OpenApiParameter(
                "type", str, many=True, description="only these types (cancelled, reassigned, ported_out, ported_in)"
            ),
        ],
        responses={200: s.NumberEventPageSerializer, 400: RefusalSerializer},
        summary="Carriers' number events after a cursor (signed like protocol v2)",
    )
    def get(self, request):
        try:
            after_id = int(base64.urlsafe_b64decode(request.query_params.get("cursor", "") + "==").decode() or 0)
            limit = int(request.query_params.get("limit", 500))
            if not 1 <= limit <= 5000:
                raise ValueError
        except (ValueError, UnicodeDecodeError):
            return error_response("invalid", "cursor must come from next_cursor; limit is 1 to 5000")
        types = request.query_params.getlist("type") or None
        events = selectors.number_event_feed(after_id=after_id, limit=limit, types=types)
        last = events[-1]["id"] if events else after_id
        page = {
            "events": events,
            "next_cursor": base64.urlsafe_b64encode(str(last).encode()).decode().rstrip("="),
            "has_more": len(events) == limit,
        }
        return Response(s.NumberEventPageSerializer(page).data)
