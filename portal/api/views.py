"""The citizen API (mini-programs and apps): the same rules as the pages."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from portal import selectors, services
from portal.api import serializers as s
from portal.views import client_ip
from registry.api.authentication import IsActiveCarrier, MemberSignatureAuthentication

REFUSAL_STATUS = {"lookup_daily_limit": 429, "resend_too_soon": 429, "daily_cap": 429}


def refusal_response(refusal: services.Refusal) -> Response:
    body = {"code": refusal.code, "detail": refusal.message, "retry_at": refusal.retry_at}
    return Response(s.RefusalSerializer(body).data, status=REFUSAL_STATUS.get(refusal.code, 400))


def invalid_response(error: ValidationError) -> Response:
    return Response({"code": getattr(error, "code", None) or "invalid", "detail": " ".join(error.messages), "retry_at": None}, status=400)


class CitizenAPIView(APIView):
    authentication_classes: list = []  # citizens have no account: the SMS code and the lookup token prove it
    permission_classes = [AllowAny]


class VerificationCodeView(CitizenAPIView):
    @extend_schema(
        request=s.VerificationCodeRequestSerializer,
        responses={202: s.VerificationCodeSentSerializer, 400: s.RefusalSerializer, 429: s.RefusalSerializer},
        summary="Send a 6-digit SMS code to the number",
    )
    def post(self, request):
        data = s.VerificationCodeRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            services.verification_code_send(phone_number=data.validated_data["phone_number"], client_ip=client_ip(request))
        except services.Refusal as refusal:
            return refusal_response(refusal)
        except ValidationError as error:
            return invalid_response(error)
        body = {"detail": "sent", "expires_in_seconds": settings.LOOKUP_CODE_TTL_SECONDS,
                "resend_after_seconds": settings.LOOKUP_CODE_RESEND_SECONDS}
        return Response(s.VerificationCodeSentSerializer(body).data, status=status.HTTP_202_ACCEPTED)


class LookupCreateView(CitizenAPIView):
    @extend_schema(
        request=s.LookupRequestSerializer,
        responses={201: s.LookupCreatedSerializer, 400: s.RefusalSerializer, 429: s.RefusalSerializer},
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
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        lookup = selectors.lookup_for_token(lookup_id=lookup_id, token=token)
        if lookup is None:
            raise Http404
        return Response(s.LookupResultSerializer(selectors.lookup_result(lookup)).data)


class PlatformLookupCallbackView(APIView):
    """A member's later answer to a lookup it acknowledged with 202, signed like every protocol v1 message."""

    authentication_classes: list = []  # the protocol v1 signature is the authentication
    permission_classes = [AllowAny]

    @extend_schema(
        request={"application/json": {"type": "object", "properties": {"accounts": {"type": "array", "items": {"type": "object"}}}}},
        responses={204: None, 400: OpenApiResponse(description="not protocol v1"), 401: OpenApiResponse(description="bad signature"),
                   404: OpenApiResponse(description="unknown request id")},
        summary="Member callback with the answer to a lookup (protocol v1, signed)",
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


class NumberEventsView(APIView):
    """Carriers and MVNOs report cancelled, re-assigned and ported numbers, up to 10,000 a batch."""

    authentication_classes = [MemberSignatureAuthentication]
    permission_classes = [IsActiveCarrier]

    @extend_schema(
        request=s.NumberEventBatchSerializer,
        responses={200: s.NumberEventResultSerializer, 400: s.RefusalSerializer, 401: OpenApiResponse(description="bad signature"),
                   403: OpenApiResponse(description="not an active carrier or MVNO")},
        summary="Report number events (signed like protocol v1 with the carrier's key)",
    )
    def post(self, request):
        events = request.data.get("events") if isinstance(request.data, dict) else None
        if not isinstance(events, list):
            return Response({"code": "invalid", "detail": 'the body must be {"events": [...]}', "retry_at": None}, status=400)
        try:
            result = services.number_events_ingest(carrier=request.user.organisation, events=events)
        except services.Refusal as refusal:
            return refusal_response(refusal)
        return Response(s.NumberEventResultSerializer(result).data)
