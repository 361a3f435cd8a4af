"""The portal's API: citizens (mini-programs and apps, with the pages' rules), members' callbacks,
carriers' reports, and the CAMARA Number Recycling check."""

import base64
import json
import math
import re
from datetime import timedelta

from captcha.conf import settings as captcha_settings
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from portal import selectors, services
from portal.api import serializers as s
from portal.client_address import client_address
from portal.models import NumberCheckAudit
from registry.api.authentication import IsActiveCarrier, IsActiveMember, MemberSignatureAuthentication

REFUSAL_STATUS = {"lookup_daily_limit": 429, "daily_cap": 429, "sms_budget_spent": 503}


def error_response(code: str, detail: str, *, status: int = 400, retry_at=None) -> Response:
    """Every refusal in the API has one shape (RefusalSerializer): a code, a sentence, when to try again."""
    return Response(s.RefusalSerializer({"code": code, "detail": detail, "retry_at": retry_at}).data, status=status)


def refusal_response(refusal: services.Refusal) -> Response:
    return error_response(refusal.code, refusal.message, status=REFUSAL_STATUS.get(refusal.code, 400), retry_at=refusal.retry_at)


def invalid_response(error: ValidationError) -> Response:
    return error_response(getattr(error, "code", None) or "invalid", " ".join(error.messages))


class CitizenAPIView(APIView):
    authentication_classes: list = []  # citizens have no account: the SMS code and the lookup token prove it
    permission_classes = [AllowAny]
    # JSON only: a form, multipart or text/plain body is what any web page can make its visitors'
    # browsers post cross-site without asking (CORS lets JSON through only after a preflight, never given).
    parser_classes = [JSONParser]

    def handle_exception(self, exc):
        if isinstance(exc, UnsupportedMediaType):
            return error_response("unsupported_media_type", _("Send the request body as JSON (Content-Type: application/json)."),
                                  status=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE)
        if isinstance(exc, ParseError):
            return error_response("invalid_json", _("The request body is not valid JSON."))
        return super().handle_exception(exc)


class MemberAPIView(APIView):
    authentication_classes = [MemberSignatureAuthentication]  # each request signed like protocol v2 with the member's key
    permission_classes = [IsActiveMember]


class CaptchaView(CitizenAPIView):
    @extend_schema(
        request=None,
        responses={201: s.CaptchaSerializer},
        summary="A picture check (captcha) to solve before asking for an SMS code",
        description="Show `image_url` (a PNG) to the person; send `captcha_key` and the characters they read as "
                    "`captcha_answer` with POST /api/v1/verification-codes. Each picture is tried once, right or wrong.",
    )
    def post(self, request):
        key = services.captcha_challenge_new()
        body = {"captcha_key": key, "image_url": request.build_absolute_uri(reverse("captcha-image", args=[key])),
                "expires_in_seconds": captcha_settings.CAPTCHA_TIMEOUT * 60}
        return Response(s.CaptchaSerializer(body).data, status=status.HTTP_201_CREATED)


class VerificationCodeView(CitizenAPIView):
    @extend_schema(
        request=s.VerificationCodeRequestSerializer,
        responses={
            202: OpenApiResponse(s.VerificationCodeSentSerializer, description=(
                "The same answer for every number: a code was sent, or a limit on the number (a code a minute, "
                "its daily caps) withheld it. The lookup a day per number is told by POST /api/v1/lookups, after the code.")),
            400: OpenApiResponse(s.RefusalSerializer, description="invalid, captcha_required, captcha_invalid, invalid_json"),
            415: OpenApiResponse(s.RefusalSerializer, description="unsupported_media_type: the body must be JSON"),
            429: OpenApiResponse(s.RefusalSerializer, description="daily_cap: too many codes from this client address today"),
            503: OpenApiResponse(s.RefusalSerializer, description="sms_budget_spent: the site's SMS budget for this hour is spent"),
        },
        summary="Send a 6-digit SMS code to the number, after a picture check",
    )
    def post(self, request):
        data = s.VerificationCodeRequestSerializer(data=request.data)
        if not data.is_valid():
            if {"captcha_key", "captcha_answer"} & set(data.errors):
                return refusal_response(services.captcha_required())
            return error_response("invalid", " ".join(f"{field}: {' '.join(map(str, errors))}" for field, errors in data.errors.items()))
        try:
            services.captcha_challenge_pass(key=data.validated_data["captcha_key"], answer=data.validated_data["captcha_answer"])
            services.verification_code_send(phone_number=data.validated_data["phone_number"], client_ip=client_address(request))
        except services.Refusal as refusal:
            return refusal_response(refusal)
        except ValidationError as error:
            return invalid_response(error)
        body = {"detail": _("If this number can receive a code, one was sent."),
                "expires_in_seconds": settings.LOOKUP_CODE_TTL_SECONDS,
                "resend_after_seconds": settings.LOOKUP_CODE_RESEND_SECONDS}
        return Response(s.VerificationCodeSentSerializer(body).data, status=status.HTTP_202_ACCEPTED)


class LookupCreateView(CitizenAPIView):
    @extend_schema(
        request=s.LookupRequestSerializer,
        responses={
            201: s.LookupCreatedSerializer,
            400: OpenApiResponse(s.RefusalSerializer, description=(
                "code_not_accepted: one answer for a wrong, expired, used or dead code; invalid_id_last6; "
                "identity_mismatch (after the code); invalid_json")),
            415: OpenApiResponse(s.RefusalSerializer, description="unsupported_media_type: the body must be JSON"),
            429: OpenApiResponse(s.RefusalSerializer, description="lookup_daily_limit, with retry_at: told only after the code is right"),
        },
        summary="Start a lookup with the SMS code",
    )
    def post(self, request):
        data = s.LookupRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            lookup, token = services.lookup_start(**data.validated_data)
        except services.Refusal as refusal:
            return refusal_response(refusal)
        except ValidationError as error:
            return invalid_response(error)
        body = {"id": lookup.pk, "access_token": token, "status_url": request.build_absolute_uri(reverse("api_lookup", args=[lookup.pk]))}
        return Response(s.LookupCreatedSerializer(body).data, status=status.HTTP_201_CREATED)


class LookupDetailView(CitizenAPIView):
    @extend_schema(
        responses={200: s.LookupResultSerializer, 404: OpenApiResponse(description="unknown lookup or wrong token")},
        summary="A lookup's state and one entry per app (Authorization: Bearer <access_token>)",
    )
    def get(self, request, lookup_id):
        lookup = _lookup_for_bearer(request, lookup_id)
        return Response(s.LookupResultSerializer(selectors.lookup_result(lookup)).data)


class LookupUnbindView(CitizenAPIView):
    @extend_schema(
        request=s.UnbindCreateSerializer,
        responses={201: s.UnbindCreatedSerializer, 400: s.RefusalSerializer, 404: OpenApiResponse(description="unknown lookup or wrong token")},
        summary="Send the accounts likely the previous holder's for unbinding: some apps, or all (Authorization: Bearer <access_token>)",
    )
    def post(self, request, lookup_id):
        lookup = _lookup_for_bearer(request, lookup_id)
        data = s.UnbindCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        app_ids = data.validated_data.get("app_ids")
        try:
            made = services.unbind_request_create(lookup=lookup, app_ids=None if data.validated_data["all"] or not app_ids else app_ids)
        except services.Refusal as refusal:
            return refusal_response(refusal)
        body = {"unbind_requests": [selectors.unbind_view(r) for r in made]}
        return Response(s.UnbindCreatedSerializer(body).data, status=status.HTTP_201_CREATED)


def _lookup_for_bearer(request, lookup_id):
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.startswith("Bearer ") else ""
    lookup = selectors.lookup_for_token(lookup_id=lookup_id, token=token)
    if lookup is None:
        raise Http404
    return lookup


class PlatformUnbindRequestsView(MemberAPIView):
    """The pull queue: a member's unbind requests, for platforms without `/v2/unbind` (and for all
    others too). Fetching queued requests marks them as delivered."""

    @extend_schema(
        parameters=[
            OpenApiParameter("state", str, enum=list(selectors.UNBIND_FILTERS),
                             description="open (default: queued or sent), overdue, queued, sent, done, refused, all"),
            OpenApiParameter("limit", int, description="1 to 500 (default 100)"),
        ],
        responses={200: s.PlatformUnbindPageSerializer, 400: s.RefusalSerializer},
        summary="Unbind requests to the member's apps, soonest deadline first (signed like protocol v2)",
    )
    def get(self, request):
        state = request.query_params.get("state", "open")
        try:
            limit = int(request.query_params.get("limit", 100))
            if state not in selectors.UNBIND_FILTERS or not 1 <= limit <= 500:
                raise ValueError
        except ValueError:
            detail = f"state is one of {', '.join(selectors.UNBIND_FILTERS)}; limit is 1 to 500"
            return error_response("invalid", detail)
        rows = list(selectors.unbind_request_list(user=request.user, state=state)[:limit])
        services.unbind_requests_mark_fetched(requests=rows)
        return Response(s.PlatformUnbindPageSerializer({"unbind_requests": rows}).data)


class PlatformUnbindAnswerView(MemberAPIView):
    """A member's answer to an unbind request: from the pull queue, or later after a 202."""

    @extend_schema(
        request=s.PlatformUnbindAnswerSerializer,
        responses={200: s.PlatformUnbindRequestSerializer, 400: s.RefusalSerializer, 404: OpenApiResponse(description="not this member's request"),
                   409: s.RefusalSerializer},
        summary="Answer an unbind request: done, or refused with a reason (signed like protocol v2)",
    )
    def post(self, request, request_id):
        from registry import protocol

        unbind_request = get_object_or_404(selectors.unbind_request_list(user=request.user, state="all"), public_id=request_id)
        try:
            answer = protocol.parse_unbind_result(request.data)
            unbind_request = services.unbind_answer(unbind_request=unbind_request, result=answer.state, reason=answer.reason, via="api")
        except protocol.ProtocolError as error:
            return error_response("invalid", error.reason)
        except services.AnswerConflict as conflict:
            detail = f"already answered: {conflict}"
            return error_response("already_answered", detail, status=409)
        return Response(s.PlatformUnbindRequestSerializer(unbind_request).data)


class PlatformLookupCallbackView(APIView):
    """A member's later answer to a lookup it acknowledged with 202, signed like every protocol v2 message."""

    authentication_classes: list = []  # the protocol v2 signature is the authentication
    permission_classes = [AllowAny]

    @extend_schema(
        request={"application/json": {"type": "object", "properties": {"accounts": {"type": "array", "items": {"type": "object"}}}}},
        responses={204: None, 400: OpenApiResponse(description="not protocol v2"), 401: OpenApiResponse(description="bad signature"),
                   404: OpenApiResponse(description="unknown request id")},
        summary="Member callback with the answer to a lookup (protocol v2, signed)",
    )
    def post(self, request, request_id):
        from registry import protocol

        try:
            services.lookup_query_callback(request_id=request_id, headers=request.headers, body=request.body)
        except services.UnknownRequest:
            raise Http404 from None
        except protocol.SignatureError as error:
            return Response({"error": error.reason}, status=401)
        except protocol.ProtocolError as error:
            return Response({"error": error.reason}, status=400)
        return Response(status=204)


class NumberEventsView(MemberAPIView):
    """Carriers and MVNOs report cancelled, re-assigned and ported numbers, up to 10,000 a batch."""

    permission_classes = [IsActiveCarrier]

    @extend_schema(
        request=s.NumberEventBatchSerializer,
        responses={200: s.NumberEventResultSerializer, 400: s.RefusalSerializer, 401: OpenApiResponse(description="bad signature"),
                   403: OpenApiResponse(description="not an active carrier or MVNO")},
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
        except services.Refusal as refusal:
            return refusal_response(refusal)
        return Response(s.NumberEventResultSerializer(result).data)


# --- CAMARA Number Recycling v0.2 (../shared/specs/camara-number-recycling/) ------------------------------

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
        request={"application/json": {"type": "object", "required": ["specifiedDate"], "properties": {
            "phoneNumber": {"type": "string", "pattern": r"^\+[1-9][0-9]{4,14}$"}, "specifiedDate": {"type": "string", "format": "date"}}}},
        responses={200: {"type": "object", "required": ["phoneNumberRecycled"], "properties": {"phoneNumberRecycled": {"type": "boolean"}}},
                   (400, "application/json"): {"type": "object"}, 401: OpenApiResponse(description="UNAUTHENTICATED"),
                   403: OpenApiResponse(description="PERMISSION_DENIED"), 422: OpenApiResponse(description="MISSING_IDENTIFIER, SERVICE_NOT_APPLICABLE"),
                   429: OpenApiResponse(description="TOO_MANY_REQUESTS: over the client's checks a second (Retry-After)")},
        summary="CAMARA Number Recycling v0.2: has the subscriber changed after the date?",
        tags=["number-recycling"],
    )
    def post(self, request):
        from datetime import date

        from registry.selectors import access_token_grant

        correlator = request.headers.get("x-correlator")
        if correlator is not None and not X_CORRELATOR.match(correlator):
            return self.error(400, "INVALID_ARGUMENT", "x-correlator does not match its schema.", None)
        header = request.headers.get("Authorization", "")
        grant = access_token_grant(token=header[7:]) if header.startswith("Bearer ") else None
        if grant is None:
            return self.error(401, "UNAUTHENTICATED", "Request not authenticated due to missing, invalid, or expired credentials.", correlator)
        if grant["expires_at"] <= timezone.now():
            return self.error(401, "UNAUTHENTICATED", "The access token has expired. A new authentication is required.", correlator)
        if CAMARA_SCOPE not in grant["scopes"] or grant["revoked"]:
            return self.error(403, "PERMISSION_DENIED", "Client does not have sufficient permissions to perform this action.", correlator)
        client = services.CheckClient(grant["organisation_id"], grant["integration_id"], grant["key_id"])
        wait = services.number_check_rate_exceeded(by=client, api=NumberCheckAudit.Api.CAMARA)
        if wait is not None:
            response = self.error(429, "TOO_MANY_REQUESTS", "Either out of resource quota or reaching rate limiting.", correlator)
            response["Retry-After"] = str(max(1, math.ceil(wait)))
            return response
        try:
            body = json.loads(request.body or b"")
        except ValueError:
            body = None
        if not isinstance(body, dict) or not body:
            return self.error(400, "INVALID_ARGUMENT", "Client specified an invalid argument, request body or query param.", correlator)
        unknown = set(body) - {"phoneNumber", "specifiedDate"}
        specified = body.get("specifiedDate")
        try:
            specified_date = date.fromisoformat(specified) if isinstance(specified, str) and len(specified) == 10 else None
        except ValueError:
            specified_date = None
        if unknown or specified_date is None:
            return self.error(400, "INVALID_ARGUMENT", "specifiedDate must be a date, YYYY-MM-DD; no other properties are allowed.", correlator)
        phone = body.get("phoneNumber")
        if phone is not None and (not isinstance(phone, str) or not E164.match(phone)):
            return self.error(400, "INVALID_ARGUMENT", "phoneNumber must be in E.164 form, e.g. +8613812345678.", correlator)
        if specified_date > timezone.localdate():
            return self.error(400, "OUT_OF_RANGE", "specifiedDate cannot be in the future.", correlator)
        if phone is None:  # two-legged tokens identify no number
            return self.error(422, "MISSING_IDENTIFIER", "The phone number cannot be deducted from the access token and it is not included in the request.", correlator)
        recycled = services.number_recycling_check(phone_number=phone, since=specified_date, by=client)
        if recycled is None:
            return self.error(422, "SERVICE_NOT_APPLICABLE", "The service is not available for the provided phone number.", correlator)
        return self.answer({"phoneNumberRecycled": recycled}, 200, correlator)


class NumberChecksView(MemberAPIView):
    """Bulk recycling check for members (as the US reassigned-numbers database answers): up to 1,000
    `{phone_number, date}` a call, each answered yes / no / no_data."""

    @extend_schema(
        request=s.NumberCheckBatchSerializer,
        responses={200: s.NumberCheckResultSerializer, 400: s.RefusalSerializer, 429: s.RefusalSerializer},
        summary="Were these numbers re-assigned after these dates? (signed like protocol v2)",
    )
    def post(self, request):
        checks = request.data.get("checks") if isinstance(request.data, dict) else None
        if not isinstance(checks, list) or len(checks) > services.NUMBER_CHECKS_MAX_BATCH:
            detail = f'the body must be {{"checks": [...]}} with at most {services.NUMBER_CHECKS_MAX_BATCH} items'
            return error_response("invalid", detail)
        system = request.user
        client = services.CheckClient(system.organisation_id, system.key.integration_id, system.key.key_id)
        wait = services.number_check_rate_exceeded(by=client, api=NumberCheckAudit.Api.BULK, numbers=len(checks))
        if wait is not None:
            retry_at = timezone.now() + timedelta(seconds=wait)
            response = error_response("rate_limited", _("Too many numbers checked this minute. Try again after %(seconds)d seconds.")
                                      % {"seconds": math.ceil(wait)}, status=429, retry_at=retry_at)
            response["Retry-After"] = str(max(1, math.ceil(wait)))
            return response
        # plain data in NumberCheckResultSerializer's shape: serialising 1,000 answers field by field cost a third of the call
        return Response({"results": services.number_checks(checks=checks, by=client)})


class NumberEventFeedView(MemberAPIView):
    """The pull feed of carriers' number events for members without webhooks: a stable cursor
    (`next_cursor`), at most `limit` events a page (default 500, at most 5,000)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("cursor", str, description="next_cursor of the previous page; empty for the start"),
            OpenApiParameter("limit", int, description="events a page, 1 to 5000 (default 500)"),
            OpenApiParameter("type", str, many=True, description="only these types (cancelled, reassigned, ported_out, ported_in)"),
        ],
        responses={200: s.NumberEventPageSerializer, 400: s.RefusalSerializer},
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


# --- Recycled-number notices: subscriptions and reports -----------------------------------------------------


def _subscription_body(subscription, secret=None) -> dict:
    body = {"app": subscription.app.name, "webhook_url": subscription.webhook_url, "event_types": subscription.types,
            "enabled": subscription.enabled, "key_id": subscription.key_id,
            "disabled_at": subscription.disabled_at, "disabled_reason": subscription.disabled_reason}
    return body | ({"secret": secret} if secret else {})


class NoticeSubscriptionView(MemberAPIView):
    """The signing key's app's webhook for recycled-number notices (CloudEvents, docs/protocol.md)."""

    def _subscription(self, request):
        from portal.models import NoticeSubscription
        from registry.scoping import scope_for_user

        return scope_for_user(NoticeSubscription.objects.select_related("app"), request.user).filter(app=request.user.app).first()

    @extend_schema(responses={200: s.NoticeSubscriptionSerializer, 404: OpenApiResponse(description="not subscribed")},
                   summary="This app's notice subscription (signed like protocol v2)")
    def get(self, request):
        subscription = self._subscription(request)
        if subscription is None:
            raise Http404
        return Response(s.NoticeSubscriptionSerializer(_subscription_body(subscription)).data)

    @extend_schema(request=s.NoticeSubscriptionRequestSerializer,
                   responses={200: s.NoticeSubscriptionSerializer, 201: s.NoticeSubscriptionSerializer, 400: s.RefusalSerializer},
                   summary="Subscribe this app to notices, or change its subscription (the secret is shown once)")
    def put(self, request):
        data = s.NoticeSubscriptionRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            subscription, secret = services.notice_subscription_save(
                app=request.user.app, webhook_url=values["webhook_url"], event_types=values["event_types"], enabled=values["enabled"]
            )
        except ValidationError as error:
            return invalid_response(error)
        created = secret is not None
        if values["new_secret"] and not created:
            secret = services.notice_subscription_new_secret(subscription=subscription)
        return Response(s.NoticeSubscriptionSerializer(_subscription_body(subscription, secret)).data, status=201 if created else 200)


class NoticeReportView(MemberAPIView):
    """A member reports how many bindings it removed for one notice (the numbers' previous holders')."""

    @extend_schema(request=s.NoticeReportSerializer,
                   responses={200: s.NoticeReportResultSerializer, 400: s.RefusalSerializer, 404: OpenApiResponse(description="not your notice")},
                   summary="Report back on a notice: bindings removed (signed like protocol v2)")
    def post(self, request, notice_id):
        from portal.models import NoticeDelivery
        from registry import protocol
        from registry.scoping import scope_for_user

        delivery = scope_for_user(NoticeDelivery.objects.all(), request.user).filter(pk=notice_id).first()
        if delivery is None:
            raise Http404
        try:
            count = protocol.parse_notice_report(request.data)
        except protocol.ProtocolError as error:
            return error_response("invalid", error.reason)
        delivery = services.notice_report(delivery=delivery, bindings_removed=count)
        body = {"id": delivery.pk, "numbers": delivery.numbers, "bindings_removed": delivery.bindings_removed,
                "reported_at": delivery.reported_at}
        return Response(s.NoticeReportResultSerializer(body).data)
