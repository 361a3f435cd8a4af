from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.core.api import CitizenAPIView, invalid_response, refusal_response
from portal.core.refusals import Refusal
from portal.core.serializers import RefusalSerializer
from portal.lookup import selectors, services
from portal.lookup import serializers as s
from portal.unbinding.services import unbind_request_create
from registry import protocol


class LookupCreateView(CitizenAPIView):
    @extend_schema(
        request=s.LookupRequestSerializer,
        responses={
            201: s.LookupCreatedSerializer,
            400: OpenApiResponse(
                RefusalSerializer,
                description=(
                    "code_not_accepted: one answer for a wrong, expired, used or dead code; invalid_id_last6; "
                    "identity_mismatch (after the code); invalid_json"
                ),
            ),
            415: OpenApiResponse(RefusalSerializer, description="unsupported_media_type: the body must be JSON"),
            429: OpenApiResponse(
                RefusalSerializer, description="lookup_daily_limit, with retry_at: told only after the code is right"
            ),
        },
        summary="Start a lookup with the SMS code",
    )
    def post(self, request):
        data = s.LookupRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            lookup, token = services.lookup_start(**data.validated_data)
        except Refusal as refusal:
            return refusal_response(refusal)
        except ValidationError as error:
            return invalid_response(error)
        body = {
            "id": lookup.pk,
            "access_token": token,
            "status_url": request.build_absolute_uri(reverse("api_lookup", args=[lookup.pk])),
        }
        return Response(s.LookupCreatedSerializer(body).data, status=status.HTTP_201_CREATED)


class LookupDetailView(CitizenAPIView):
    @extend_schema(
        responses={200: s.LookupResultSerializer, 404: OpenApiResponse(description="unknown lookup or wrong token")},
        summary="A lookup's state and one entry per app (Authorization: Bearer <access_token>)",
    )
    def get(self, request, lookup_id):
        lookup = _lookup_for_bearer(request, lookup_id)
        return Response(s.LookupResultSerializer(selectors.lookup_result(lookup)).data)


def _lookup_for_bearer(request, lookup_id):
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.startswith("Bearer ") else ""
    lookup = selectors.lookup_for_token(lookup_id=lookup_id, token=token)
    if lookup is None:
        raise Http404
    return lookup


class PlatformLookupCallbackView(APIView):
    """A member's later answer to a lookup it acknowledged with 202, signed like every protocol v2 message."""

    authentication_classes: list = []  # the protocol v2 signature is the authentication
    permission_classes = [AllowAny]

    @extend_schema(
        request={
            "application/json": {
                "type": "object",
                "properties": {"accounts": {"type": "array", "items": {"type": "object"}}},
            }
        },
        responses={
            204: None,
            400: OpenApiResponse(description="not protocol v2"),
            401: OpenApiResponse(description="bad signature"),
            404: OpenApiResponse(description="unknown request id"),
        },
        summary="Member callback with the answer to a lookup (protocol v2, signed)",
    )
    def post(self, request, request_id):
        try:
            services.lookup_query_callback(request_id=request_id, headers=request.headers, body=request.body)
        except services.UnknownRequest:
            raise Http404 from None
        except protocol.SignatureError as error:
            return Response({"error": error.reason}, status=401)
        except protocol.ProtocolError as error:
            return Response({"error": error.reason}, status=400)
        return Response(status=204)


class LookupUnbindView(CitizenAPIView):
    @extend_schema(
        request=s.UnbindCreateSerializer,
        responses={
            201: s.UnbindCreatedSerializer,
            400: RefusalSerializer,
            404: OpenApiResponse(description="unknown lookup or wrong token"),
        },
        summary=(
            "Send the accounts likely the previous holder's for unbinding: some apps, or all "
            "(Authorization: Bearer <access_token>)"
        ),
    )
    def post(self, request, lookup_id):
        lookup = _lookup_for_bearer(request, lookup_id)
        data = s.UnbindCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        app_ids = data.validated_data.get("app_ids")
        try:
            made = unbind_request_create(
                lookup=lookup, app_ids=None if data.validated_data["all"] or not app_ids else app_ids
            )
        except Refusal as refusal:
            return refusal_response(refusal)
        body = {"unbind_requests": [selectors.unbind_view(r) for r in made]}
        return Response(s.UnbindCreatedSerializer(body).data, status=status.HTTP_201_CREATED)
