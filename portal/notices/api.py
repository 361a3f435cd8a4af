from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from portal.core.api import error_response, invalid_response
from portal.core.serializers import RefusalSerializer
from portal.notices import replay, services
from portal.notices import serializers as s
from portal.notices.models import NoticeDelivery, NoticeSubscription
from registry import protocol
from registry.api.base import MemberAPIView
from registry.scoping import scope_for_user


def _subscription_body(subscription, secret=None) -> dict:
    body = {
        "app": subscription.app.name,
        "webhook_url": subscription.webhook_url,
        "event_types": subscription.types,
        "enabled": subscription.enabled,
        "key_id": subscription.key_id,
        "disabled_at": subscription.disabled_at,
        "disabled_reason": subscription.disabled_reason,
    }
    return body | ({"secret": secret} if secret else {})


class NoticeSubscriptionView(MemberAPIView):
    """The signing key's app's webhook for recycled-number notices (CloudEvents, docs/protocol.md)."""

    def _subscription(self, request):
        return (
            scope_for_user(NoticeSubscription.objects.select_related("app"), request.user)
            .filter(app=request.user.app)
            .first()
        )

    @extend_schema(
        responses={200: s.NoticeSubscriptionSerializer, 404: OpenApiResponse(description="not subscribed")},
        summary="This app's notice subscription (signed like protocol v2)",
    )
    def get(self, request):
        subscription = self._subscription(request)
        if subscription is None:
            raise Http404
        return Response(s.NoticeSubscriptionSerializer(_subscription_body(subscription)).data)

    @extend_schema(
        request=s.NoticeSubscriptionRequestSerializer,
        responses={200: s.NoticeSubscriptionSerializer, 201: s.NoticeSubscriptionSerializer, 400: RefusalSerializer},
        summary="Subscribe this app to notices, or change its subscription (the secret is shown once)",
    )
    def put(self, request):
        data = s.NoticeSubscriptionRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            subscription, secret = services.notice_subscription_save(
                app=request.user.app,
                webhook_url=values["webhook_url"],
                event_types=values["event_types"],
                enabled=values["enabled"],
            )
        except ValidationError as error:
            return invalid_response(error)
        created = secret is not None
        if values["new_secret"] and not created:
            secret = services.notice_subscription_new_secret(subscription=subscription)
        return Response(
            s.NoticeSubscriptionSerializer(_subscription_body(subscription, secret)).data,
            status=201 if created else 200,
        )


class NoticeReportView(MemberAPIView):
    """A member reports how many bindings it removed for one notice (the numbers' previous holders')."""

    @extend_schema(
        request=s.NoticeReportSerializer,
        responses={
            200: s.NoticeReportResultSerializer,
            400: RefusalSerializer,
            404: OpenApiResponse(description="not your notice"),
        },
        summary="Report back on a notice: bindings removed (signed like protocol v2)",
    )
    def post(self, request, notice_id):
        delivery = scope_for_user(NoticeDelivery.objects.all(), request.user).filter(pk=notice_id).first()
        if delivery is None:
            raise Http404
        try:
            count = protocol.parse_notice_report(request.data)
        except protocol.ProtocolError as error:
            return error_response("invalid", error.reason)
        delivery = services.notice_report(delivery=delivery, bindings_removed=count)
        body = {
            "id": delivery.pk,
            "numbers": delivery.numbers,
            "bindings_removed": delivery.bindings_removed,
            "reported_at": delivery.reported_at,
        }
        return Response(s.NoticeReportResultSerializer(body).data)


class NoticeReplaySerializer(serializers.Serializer):
    id = serializers.UUIDField(
        help_text="the notice id: the CloudEvent id and the webhook-id of every attempt (replays too)"
    )
    state = serializers.ChoiceField(choices=NoticeDelivery.State.values)
    attempts = serializers.IntegerField(help_text="attempts so far (the replay is the next one)")
    replay_due_at = serializers.DateTimeField(help_text="when the replay was asked for; it is sent within seconds")


def _refusal(description: str) -> OpenApiResponse:
    return OpenApiResponse(RefusalSerializer, description=description)


class NoticeReplayView(MemberAPIView):
    """Staff's systems replay a notice of the last NOTICE_REPLAY_DAYS days, e.g. after an outage."""

    @extend_schema(
        request=None,
        responses={
            202: NoticeReplaySerializer,
            400: _refusal("invalid: the request has a body (send none, or {})"),
            401: _refusal("not signed, or the signature, key or timestamp is refused"),
            403: _refusal("the signing key's member is not active"),
            404: _refusal("no such notice among this member's"),
            409: _refusal(
                "replay_window_passed: older than NOTICE_REPLAY_DAYS (7) days; "
                "endpoint_disabled: re-enable the webhook first"
            ),
            429: _refusal("replay_limit: replayed NOTICE_REPLAYS_PER_DAY (20) times in 24 hours; retry_at says when"),
        },
        summary="Replay a notice: sent once more now, same webhook-id, new timestamp and signature (signed like "
        "protocol v2)",
    )
    def post(self, request, notice_id):
        rows = scope_for_user(NoticeDelivery.objects.select_related("subscription"), request.user)
        delivery = rows.filter(pk=notice_id).first()
        if delivery is None:
            raise Http404
        if request.body.strip() not in (b"", b"{}"):
            return error_response("invalid", "This request takes no body.")
        try:
            delivery = replay.replay_request(delivery=delivery, by=f"api {request.auth.key_id}")
        except replay.ReplayRefused as refusal:
            return error_response(refusal.code, refusal.message, status=refusal.status, retry_at=refusal.retry_at)
        body = {
            "id": delivery.pk,
            "state": delivery.state,
            "attempts": delivery.attempts,
            "replay_due_at": delivery.replay_due_at,
        }
        return Response(NoticeReplaySerializer(body).data, status=202)
