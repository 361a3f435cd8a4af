from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response

from portal.core.api import error_response, invalid_response
from portal.core.serializers import RefusalSerializer
from portal.notices import serializers as s
from portal.notices import services
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
