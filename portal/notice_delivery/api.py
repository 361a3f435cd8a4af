"""The member API's replay: `POST /api/v1/platform/notices/{id}/replay`, signed like every member
request; the member's own organisation's notices only (registry/scoping.py), another's is a 404."""

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from portal.api.serializers import RefusalSerializer
from portal.api.views import MemberAPIView, error_response
from portal.models import NoticeDelivery
from portal.notice_delivery import services
from registry.scoping import scope_for_user


class NoticeReplaySerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="the notice id: the CloudEvent id and the webhook-id of every attempt "
                                         "(replays too)")
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
            409: _refusal("replay_window_passed: older than NOTICE_REPLAY_DAYS (7) days; "
                          "endpoint_disabled: re-enable the webhook first"),
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
            delivery = services.replay_request(delivery=delivery, by=f"api {request.auth.key_id}")
        except services.ReplayRefused as refusal:
            return error_response(refusal.code, refusal.message, status=refusal.status, retry_at=refusal.retry_at)
        body = {"id": delivery.pk, "state": delivery.state, "attempts": delivery.attempts,
                "replay_due_at": delivery.replay_due_at}
        return Response(NoticeReplaySerializer(body).data, status=202)
