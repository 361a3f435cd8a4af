"""The carrier API (docs/protocol.md, "Carriers acting for their subscribers"): signed like every member
API request, with a key of the carrier's own integration. Views parse the body strictly and call one
service or selector; a number outside the carrier's segments is a 404, as an unknown action is."""

import json
import math

from django.core.exceptions import ValidationError
from django.urls import path, reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.carrier import selectors, services
from portal.carrier.models import CarrierAction
from portal.core.api import error_response
from portal.core.serializers import RefusalSerializer
from registry.api.authentication import IsActiveCarrier, MemberSignatureAuthentication

REFUSAL_STATUS = {"rate_limited": 429, "lookup_daily_limit": 429}


class AttestationSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=CarrierAction.Channel.choices)
    reference = serializers.CharField(
        max_length=64,
        help_text="the carrier's own reference for the staff member or "
        "the app session: 1 to 64 of A-Z a-z 0-9 _ . : @ / # -",
    )
    verified_at = serializers.DateTimeField(
        help_text="when the carrier verified its subscriber: not in the future, at most 30 minutes ago"
    )


def _request(name: str, **extra):
    return inline_serializer(
        name,
        fields={
            "phone_number": serializers.CharField(help_text="E.164, +86 and 11 digits"),
            "attestation": AttestationSerializer(),
            **extra,
        },
    )


_CALLBACK = serializers.URLField(
    required=False,
    help_text="optional: POSTed the finished action, signed (Standard Webhooks) with the integration's keys",
)
_ERRORS = {
    400: OpenApiResponse(
        RefusalSerializer,
        description="invalid, invalid_attestation, invalid_phone, "
        "invalid_callback_url, holder_since_unknown, nothing_to_unbind",
    ),
    401: OpenApiResponse(description="bad signature"),
    403: OpenApiResponse(description="not an active carrier or MVNO"),
    404: OpenApiResponse(RefusalSerializer, description="not_found: the number is not in the carrier's segments"),
    429: OpenApiResponse(
        RefusalSerializer,
        description="rate_limited (the carrier's actions a minute, with Retry-After); lookup_daily_limit",
    ),
}


def not_found() -> Response:
    return error_response("not_found", "no such number in this carrier's segments, or no such action", status=404)


class CarrierAPIView(APIView):
    authentication_classes = [MemberSignatureAuthentication]
    permission_classes = [IsActiveCarrier]
    allowed_keys: frozenset = frozenset()
    required_keys = frozenset({"phone_number", "attestation"})

    def body(self, request) -> dict:
        """The signed bytes, parsed once; exactly the keys this endpoint takes."""
        try:
            body = json.loads(request.body)
        except ValueError:
            raise ValidationError("the body is not valid JSON", code="invalid") from None
        if not isinstance(body, dict) or not self.required_keys <= set(body) <= self.allowed_keys:
            raise ValidationError(
                f"the body takes {', '.join(sorted(self.allowed_keys))} "
                f"({', '.join(sorted(self.required_keys))} required)",
                code="invalid",
            )
        return body

    def actor(self, request) -> services.Actor:
        key = request.auth
        return services.Actor(
            carrier=request.user.organisation, via=CarrierAction.Via.API, key_id=key.key_id, integration=key.integration
        )

    def run(self, request, action):
        """Call `action(body)`; the guard rails' refusals in the API's shapes."""
        try:
            return action(self.body(request))
        except services.NotCarriersNumber:
            return not_found()
        except services.Refusal as refusal:
            response = error_response(
                refusal.code, refusal.message, status=REFUSAL_STATUS.get(refusal.code, 400), retry_at=refusal.retry_at
            )
            if refusal.code == "rate_limited" and refusal.retry_at:
                response["Retry-After"] = str(max(1, math.ceil((refusal.retry_at - timezone.now()).total_seconds())))
            return response
        except ValidationError as error:
            return validation_response(error)


def validation_response(error: ValidationError) -> Response:
    """400 {code, detail, errors}: the code of the first field's error (invalid_attestation, invalid_phone, ...)."""
    if hasattr(error, "error_dict"):
        fields, codes = error.message_dict, [e.code for errors in error.error_dict.values() for e in errors]
    else:
        fields, codes = {"phone_number" if error.code == "invalid_phone" else "body": error.messages}, [error.code]
    detail = " ".join(f"{field}: {' '.join(messages)}" for field, messages in fields.items())
    response = error_response(next((c for c in codes if c), "invalid"), detail)
    response.data["errors"] = fields
    return response


class LookupsView(CarrierAPIView):
    allowed_keys = frozenset({"phone_number", "attestation", "callback_url"})

    @extend_schema(
        request=_request("CarrierLookupRequest", callback_url=_CALLBACK),
        responses={201: OpenApiResponse(description="the lookup: counts per app only"), **_ERRORS},
        summary="Start a lookup (一号通查) for the carrier's subscriber",
    )
    def post(self, request):
        def start(body):
            action = services.carrier_lookup_start(
                actor=self.actor(request),
                phone_number=body["phone_number"],
                attestation=services.attestation_parse(body["attestation"]),
                callback_url=services.callback_url_clean(body.get("callback_url")),
            )
            return _created(request, action, "api_carrier_lookup")

        return self.run(request, start)


class RenewalsView(CarrierAPIView):
    allowed_keys = frozenset({"phone_number", "attestation", "holder_since", "callback_url"})

    @extend_schema(
        request=_request(
            "CarrierRenewalRequest", callback_url=_CALLBACK, holder_since=serializers.DateField(required=False)
        ),
        responses={
            201: OpenApiResponse(description="the renewal, per app"),
            200: OpenApiResponse(description="the number's renewal already running"),
            **_ERRORS,
        },
        summary="Renew a number (主动焕新): every app with unbinding removes the bindings made before the "
        "holder got it",
    )
    def post(self, request):
        def start(body):
            attestation = services.attestation_parse(body["attestation"])
            action, created = services.carrier_renewal_start(
                actor=self.actor(request),
                phone_number=body["phone_number"],
                attestation=attestation,
                holder_since=body.get("holder_since"),
                callback_url=services.callback_url_clean(body.get("callback_url")),
            )
            return _created(request, action, "api_carrier_renewal", status=201 if created else 200)

        return self.run(request, start)


class HistoryView(CarrierAPIView):
    allowed_keys = frozenset({"phone_number", "attestation"})

    @extend_schema(
        request=_request("CarrierHistoryRequest"),
        responses={200: OpenApiResponse(description="the number's recycling history and a short text"), **_ERRORS},
        summary="A number's recycling history, for the point of sale",
    )
    def post(self, request):
        def read(body):
            action, history = services.carrier_history_read(
                actor=self.actor(request),
                phone_number=body["phone_number"],
                attestation=services.attestation_parse(body["attestation"]),
            )
            history = history | {"id": str(action.public_id)}
            history["holder_since"] = history["holder_since"].isoformat() if history["holder_since"] else None
            return Response(history)

        return self.run(request, read)


class ActionDetailView(CarrierAPIView):
    kind = ""

    @extend_schema(
        responses={200: OpenApiResponse(description="the action's progress"), 404: RefusalSerializer},
        summary="A carrier's lookup or renewal: progress (poll)",
    )
    def get(self, request, public_id):
        action = selectors.action_for_carrier(carrier=request.user.organisation, public_id=public_id, kind=self.kind)
        if action is None:
            return not_found()
        return Response(selectors.action_view(action))


def _created(request, action, url_name: str, status: int = 201) -> Response:
    body = selectors.action_view(action)
    body["status_url"] = request.build_absolute_uri(reverse(url_name, args=[action.public_id]))
    return Response(body, status=status)


urlpatterns = [
    path("carrier/lookups", LookupsView.as_view(), name="api_carrier_lookups"),
    path(
        "carrier/lookups/<uuid:public_id>",
        ActionDetailView.as_view(kind=CarrierAction.Kind.LOOKUP),
        name="api_carrier_lookup",
    ),
    path("carrier/renewals", RenewalsView.as_view(), name="api_carrier_renewals"),
    path(
        "carrier/renewals/<uuid:public_id>",
        ActionDetailView.as_view(kind=CarrierAction.Kind.RENEWAL),
        name="api_carrier_renewal",
    ),
    path("carrier/number-history", HistoryView.as_view(), name="api_carrier_number_history"),
]
