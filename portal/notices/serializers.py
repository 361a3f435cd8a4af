from rest_framework import serializers

from portal.recycling.serializers import EVENT_TYPES


class NoticeSubscriptionRequestSerializer(serializers.Serializer):
    webhook_url = serializers.CharField(help_text="where notices are POSTed (https)")
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPES), min_length=1)
    enabled = serializers.BooleanField(default=True)
    new_secret = serializers.BooleanField(
        default=False, help_text="replace the signing secret (shown once in the answer)"
    )


class NoticeSubscriptionSerializer(serializers.Serializer):
    app = serializers.CharField()
    webhook_url = serializers.CharField()
    event_types = serializers.ListField(child=serializers.CharField())
    enabled = serializers.BooleanField()
    disabled_at = serializers.DateTimeField(
        allow_null=True,
        help_text="set when the portal stopped sending (the webhook failed for 5 days, or answered 410); "
        "a PUT with enabled=true sends again",
    )
    disabled_reason = serializers.CharField(allow_blank=True)
    key_id = serializers.CharField(
        help_text="names the current secret, so the member can tell secrets apart (not sent on notices)"
    )
    secret = serializers.CharField(
        required=False, help_text="only when it was just made: keep it, it is not shown again"
    )


class NoticeReportSerializer(serializers.Serializer):
    bindings_removed = serializers.IntegerField(min_value=0, max_value=10_000_000)


class NoticeReportResultSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    numbers = serializers.IntegerField()
    bindings_removed = serializers.IntegerField()
    reported_at = serializers.DateTimeField()
