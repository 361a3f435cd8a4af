from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response

from portal.core.api import error_response
from portal.core.serializers import RefusalSerializer
from portal.unbinding import selectors, services
from portal.unbinding import serializers as s
from registry import protocol
from registry.api.base import MemberAPIView


class PlatformUnbindRequestsView(MemberAPIView):
    """The pull queue: a member's unbind requests, for platforms without `/v2/unbind` (and for all
    others too). Fetching queued requests marks them as delivered."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "state",
                str,
                enum=list(selectors.UNBIND_FILTERS),
                description="open (default: queued or sent), overdue, queued, sent, done, refused, all",
            ),
            OpenApiParameter("limit", int, description="1 to 500 (default 100)"),
        ],
        responses={200: s.PlatformUnbindPageSerializer, 400: RefusalSerializer},
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
        responses={
            200: s.PlatformUnbindRequestSerializer,
            400: RefusalSerializer,
            404: OpenApiResponse(description="not this member's request"),
            409: RefusalSerializer,
        },
        summary="Answer an unbind request: done, or refused with a reason (signed like protocol v2)",
    )
    def post(self, request, request_id):
        unbind_request = get_object_or_404(
            selectors.unbind_request_list(user=request.user, state="all"), public_id=request_id
        )
        try:
            answer = protocol.parse_unbind_result(request.data)
            unbind_request = services.unbind_answer(
                unbind_request=unbind_request, result=answer.state, reason=answer.reason, via="api"
            )
        except protocol.ProtocolError as error:
            return error_response("invalid", error.reason)
        except services.AnswerConflict as conflict:
            detail = f"already answered: {conflict}"
            return error_response("already_answered", detail, status=409)
        return Response(s.PlatformUnbindRequestSerializer(unbind_request).data)
