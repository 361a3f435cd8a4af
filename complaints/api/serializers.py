from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from complaints.models import Complaint
from portal.core.phone import to_e164


class EvidenceSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField(source="original_name")
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    url = serializers.SerializerMethodField()

    def get_url(self, evidence) -> str:
        return reverse("api_platform_complaint_evidence", args=[evidence.complaint.reference, evidence.pk])


class PlatformComplaintSerializer(serializers.ModelSerializer):
    """A complaint as the platform sees it: the number in full (to find the account), the narrative and
    attachments only if the holder agreed to share them."""

    app = serializers.CharField(source="app.name", allow_null=True)
    app_id = serializers.IntegerField(allow_null=True)
    phone_number = serializers.SerializerMethodField()
    description = serializers.SerializerMethodField()
    desired_outcome = serializers.SerializerMethodField()
    evidence = serializers.SerializerMethodField()
    days_left = serializers.IntegerField(allow_null=True, read_only=True)

    class Meta:
        model = Complaint
        fields = [
            "reference",
            "state",
            "category",
            "app",
            "app_id",
            "province",
            "city",
            "started_on",
            "received_at",
            "phone_number",
            "consent_to_share",
            "description",
            "desired_outcome",
            "evidence",
            "sent_at",
            "answer_due_at",
            "final_due_at",
            "days_left",
            "first_answer_at",
            "answered_at",
            "answer",
            "relief",
            "answer_text",
            "timely",
            "feedback",
            "feedback_score",
        ]

    def get_phone_number(self, complaint) -> str | None:
        return to_e164(complaint.phone_number) if complaint.phone_encrypted else None

    def get_description(self, complaint) -> str | None:
        return complaint.description if complaint.consent_to_share else None

    def get_desired_outcome(self, complaint) -> str | None:
        return complaint.desired_outcome if complaint.consent_to_share else None

    @extend_schema_field(EvidenceSerializer(many=True, allow_null=True))
    def get_evidence(self, complaint):
        if not complaint.consent_to_share:
            return None
        return EvidenceSerializer(complaint.evidence.all(), many=True).data


class AnswerSerializer(serializers.Serializer):
    answer = serializers.ChoiceField(choices=Complaint.Answer.choices)
    relief = serializers.ChoiceField(
        choices=Complaint.Relief.choices, required=False, allow_blank=True, help_text="required with closed_with_relief"
    )
    text = serializers.CharField(max_length=5000, help_text="the explanation the holder reads")


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
