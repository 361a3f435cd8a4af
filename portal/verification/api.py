from captcha.conf import settings as captcha_settings
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from portal.core.api import (
    CitizenAPIView,
    error_response,
    invalid_response,
    refusal_response,
)
from portal.core.client_address import client_address
from portal.core.refusals import Refusal
from portal.core.serializers import RefusalSerializer
from portal.verification import serializers as s
from portal.verification import services


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
        body = {
            "captcha_key": key,
            "image_url": request.build_absolute_uri(reverse("captcha-image", args=[key])),
            "expires_in_seconds": captcha_settings.CAPTCHA_TIMEOUT * 60,
        }
        return Response(s.CaptchaSerializer(body).data, status=status.HTTP_201_CREATED)


class VerificationCodeView(CitizenAPIView):
    @extend_schema(
        request=s.VerificationCodeRequestSerializer,
        responses={
            202: OpenApiResponse(
                s.VerificationCodeSentSerializer,
                description=(
                    "The same answer for every number: a code was sent, or a limit on the number (a code a minute, "
                    "its daily caps) withheld it. The lookup a day per number is told by POST /api/v1/lookups, after "
                    "the code."
                ),
            ),
            400: OpenApiResponse(
                RefusalSerializer, description="invalid, captcha_required, captcha_invalid, invalid_json"
            ),
            415: OpenApiResponse(RefusalSerializer, description="unsupported_media_type: the body must be JSON"),
            429: OpenApiResponse(
                RefusalSerializer, description="daily_cap: too many codes from this client address today"
            ),
            503: OpenApiResponse(
                RefusalSerializer, description="sms_budget_spent: the site's SMS budget for this hour is spent"
            ),
        },
        summary="Send a 6-digit SMS code to the number, after a picture check",
    )
    def post(self, request):
        data = s.VerificationCodeRequestSerializer(data=request.data)
        if not data.is_valid():
            if {"captcha_key", "captcha_answer"} & set(data.errors):
                return refusal_response(services.captcha_required())
            return error_response(
                "invalid", " ".join(f"{field}: {' '.join(map(str, errors))}" for field, errors in data.errors.items())
            )
        try:
            services.captcha_challenge_pass(
                key=data.validated_data["captcha_key"], answer=data.validated_data["captcha_answer"]
            )
            services.verification_code_send(
                phone_number=data.validated_data["phone_number"], client_ip=client_address(request)
            )
        except Refusal as refusal:
            return refusal_response(refusal)
        except ValidationError as error:
            return invalid_response(error)
        body = {
            "detail": _("If this number can receive a code, one was sent."),
            "expires_in_seconds": settings.LOOKUP_CODE_TTL_SECONDS,
            "resend_after_seconds": settings.LOOKUP_CODE_RESEND_SECONDS,
        }
        return Response(s.VerificationCodeSentSerializer(body).data, status=status.HTTP_202_ACCEPTED)
