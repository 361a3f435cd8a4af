"""The platform API for complaints: members' systems list, read and answer their own cases (signed like
protocol v2). Rows come through `scope_for_user`, so another member's case is a 404."""

import datetime as dt

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import FileResponse, Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.exceptions import ValidationError
from rest_framework.views import APIView

from complaints import selectors, services
from complaints.api import serializers as s
from complaints.models import Complaint
from registry.api.authentication import IsActiveMember, MemberSignatureAuthentication


def _iso_date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if len(value) == 10 and value.isascii() else None
    except ValueError:
        return None


class PlatformAPIView(APIView):
    authentication_classes = [MemberSignatureAuthentication]
    permission_classes = [IsActiveMember]


class ComplaintPages(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


@extend_schema(
    parameters=[
        OpenApiParameter("queue", str, enum=["open", "escalated", "late", "closed"], description="open: awaiting your answer"),
        OpenApiParameter("state", str, description="one state"),
        OpenApiParameter("received_from", str, description="YYYY-MM-DD"),
        OpenApiParameter("received_to", str, description="YYYY-MM-DD"),
    ],
    summary="Your organisation's complaints, newest first (signed like protocol v2)",
)
class PlatformComplaintListView(PlatformAPIView, ListAPIView):
    serializer_class = s.PlatformComplaintSerializer
    pagination_class = ComplaintPages

    def get_queryset(self):
        params = self.request.query_params
        filters = {k: params[k] for k in ("queue", "state", "received_from", "received_to") if params.get(k)}
        # the pages' filter form checks these; the API checks them here (a bad date made the query raise)
        for name in ("received_from", "received_to"):
            if name in filters:
                filters[name] = _iso_date(filters[name])
                if filters[name] is None:
                    raise ValidationError({name: "a date, YYYY-MM-DD"})
        if filters.get("state") and filters["state"] not in Complaint.State.values:
            raise ValidationError({"state": f"one of {', '.join(Complaint.State.values)}"})
        return selectors.complaint_list_for_user(user=self.request.user, filters=filters).prefetch_related("evidence")


class PlatformComplaintDetailView(PlatformAPIView):
    @extend_schema(responses={200: s.PlatformComplaintSerializer}, summary="One complaint")
    def get(self, request, reference):
        complaint = selectors.complaint_for_user(user=request.user, reference=reference)
        return Response(s.PlatformComplaintSerializer(complaint).data)


class PlatformComplaintAnswerView(PlatformAPIView):
    @extend_schema(
        request=s.AnswerSerializer,
        responses={200: s.PlatformComplaintSerializer, 400: s.ErrorSerializer, 409: s.ErrorSerializer},
        summary="Answer a complaint: in_progress, closed_with_explanation, closed_with_relief (with relief), misrouted",
    )
    def post(self, request, reference):
        complaint = selectors.complaint_for_user(user=request.user, reference=reference)
        data = s.AnswerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            complaint = services.complaint_answer(complaint=complaint, by=request.user, **data.validated_data)
        except services.NotAllowed as refusal:
            return Response({"code": "not_allowed", "detail": refusal.message}, status=409)
        except DjangoValidationError as error:
            return Response({"code": error.code or "invalid", "detail": " ".join(error.messages)}, status=400)
        return Response(s.PlatformComplaintSerializer(complaint).data)


class PlatformComplaintEvidenceView(PlatformAPIView):
    @extend_schema(responses={(200, "application/octet-stream"): bytes}, summary="An attachment the holder agreed to share")
    def get(self, request, reference, evidence_id):
        evidence = selectors.evidence_for_user(user=request.user, evidence_id=evidence_id)
        if evidence.complaint.reference != reference:
            raise Http404
        return FileResponse(evidence.file.open("rb"), content_type=evidence.content_type, filename=evidence.original_name)
