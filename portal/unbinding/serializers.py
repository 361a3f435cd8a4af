from rest_framework import serializers

from portal.core.phone import to_e164


class UnbindStateSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    app = serializers.CharField()
    state = serializers.ChoiceField(
        choices=["queued", "sent", "done", "refused"],
        help_text="queued: not yet with the platform; sent: with the platform; done; refused",
    )
    state_label = serializers.CharField()
    accounts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    deadline_at = serializers.DateTimeField(help_text="5 working days after the request")
    working_days_left = serializers.IntegerField(allow_null=True)
    overdue = serializers.BooleanField(help_text="not answered and past the deadline")
    answered_at = serializers.DateTimeField(allow_null=True)
    refusal_reason = serializers.CharField(allow_blank=True)
    complaint_url = serializers.CharField(
        allow_null=True, help_text="offered once refused or overdue (a pre-filled complaint)"
    )


class PlatformUnbindAccountSerializer(serializers.Serializer):
    account_ref = serializers.CharField()
    registered_on = serializers.DateField()


class PlatformUnbindRequestSerializer(serializers.Serializer):
    request_id = serializers.UUIDField(source="public_id")
    app_id = serializers.IntegerField()
    app = serializers.CharField(source="app.name")
    phone_number = serializers.SerializerMethodField(help_text="E.164; empty once the lookup's details were deleted")
    holder_since = serializers.DateField(source="lookup.holder_since", allow_null=True)
    accounts = PlatformUnbindAccountSerializer(many=True)
    state = serializers.ChoiceField(choices=["queued", "sent", "done", "refused"])
    created_at = serializers.DateTimeField()
    deadline_at = serializers.DateTimeField()
    answered_at = serializers.DateTimeField(allow_null=True)
    refusal_reason = serializers.CharField(allow_blank=True)

    def get_phone_number(self, obj) -> str:
        return to_e164(obj.lookup.phone_number) if obj.lookup.phone_number else ""


class PlatformUnbindPageSerializer(serializers.Serializer):
    unbind_requests = PlatformUnbindRequestSerializer(many=True)


class PlatformUnbindAnswerSerializer(serializers.Serializer):
    result = serializers.ChoiceField(choices=["done", "refused"])
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=500, help_text="required with refused; the holder reads it"
    )
