from rest_framework import serializers

from portal.recycling.models import NumberEvent

EVENT_TYPES = NumberEvent.Type.values


class NumberEventSerializer(serializers.Serializer):
    event_id = serializers.CharField(max_length=100)
    phone_number = serializers.CharField(help_text="E.164, e.g. +8613812345678 (11 digits also accepted)")
    type = serializers.ChoiceField(choices=EVENT_TYPES)
    occurred_at = serializers.DateTimeField()


class NumberEventBatchSerializer(serializers.Serializer):
    events = NumberEventSerializer(many=True, help_text="at most 10,000")


class RejectedEventSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    reason = serializers.CharField()


class NumberEventResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="already received (same carrier and event_id)")
    rejected = RejectedEventSerializer(many=True)
    freeze_breaches = serializers.IntegerField(help_text="re-assignments sooner than 90 days after cancellation")


class NumberCheckSerializer(serializers.Serializer):
    phone_number = serializers.CharField(help_text="E.164, e.g. +8613812345678")
    date = serializers.DateField(help_text="the date the member last knew the holder, YYYY-MM-DD")


class NumberCheckBatchSerializer(serializers.Serializer):
    checks = NumberCheckSerializer(many=True, help_text="at most 1,000")


class NumberCheckAnswerSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    phone_number = serializers.CharField()
    answer = serializers.ChoiceField(
        choices=["yes", "no", "no_data", "invalid"],
        help_text="yes: re-assigned (or unassigned) since the date; no_data: no reporting carrier covers it",
    )
    reason = serializers.CharField(required=False)


class NumberCheckResultSerializer(serializers.Serializer):
    results = NumberCheckAnswerSerializer(many=True)


class FeedEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    carrier = serializers.CharField()
    phone_number = serializers.CharField()
    type = serializers.ChoiceField(choices=EVENT_TYPES)
    occurred_at = serializers.DateTimeField()


class NumberEventPageSerializer(serializers.Serializer):
    events = FeedEventSerializer(many=True)
    next_cursor = serializers.CharField()
    has_more = serializers.BooleanField()
