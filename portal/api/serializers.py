from rest_framework import serializers


class VerificationCodeRequestSerializer(serializers.Serializer):
    phone_number = serializers.CharField(max_length=20)


class VerificationCodeSentSerializer(serializers.Serializer):
    detail = serializers.CharField()
    expires_in_seconds = serializers.IntegerField()
    resend_after_seconds = serializers.IntegerField()


class LookupRequestSerializer(serializers.Serializer):
    phone_number = serializers.CharField(max_length=20)
    id_last6 = serializers.CharField(max_length=6)
    code = serializers.CharField(max_length=6)


class LookupCreatedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    access_token = serializers.CharField()
    status_url = serializers.CharField()


class RefusalSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    retry_at = serializers.DateTimeField(allow_null=True)


class LookupAppSerializer(serializers.Serializer):
    app = serializers.CharField()
    app_id = serializers.IntegerField()
    category = serializers.CharField()
    state = serializers.ChoiceField(choices=["waiting", "running", "answered", "no_account", "error", "timed_out", "unavailable"])
    state_label = serializers.CharField()
    accounts = serializers.IntegerField()
    accounts_previous = serializers.IntegerField()
    settled = serializers.BooleanField()
    unbind_instructions = serializers.CharField()
    unbind_url = serializers.CharField()


class ProgressSerializer(serializers.Serializer):
    settled = serializers.IntegerField()
    total = serializers.IntegerField()


class SummarySerializer(serializers.Serializer):
    apps_with_accounts = serializers.IntegerField()
    accounts_total = serializers.IntegerField()
    accounts_previous = serializers.IntegerField()


class LookupResultSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    state = serializers.ChoiceField(choices=["running", "completed"])
    phone_number = serializers.CharField(help_text="masked, e.g. 138****5678")
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    progress = ProgressSerializer()
    summary = SummarySerializer()
    apps = LookupAppSerializer(many=True)


class NumberEventSerializer(serializers.Serializer):
    event_id = serializers.CharField(max_length=100)
    phone_number = serializers.CharField(help_text="E.164, e.g. +8613812345678 (11 digits also accepted)")
    type = serializers.ChoiceField(choices=["cancelled", "reassigned", "ported_out", "ported_in"])
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
    answer = serializers.ChoiceField(choices=["yes", "no", "no_data", "invalid"],
                                     help_text="yes: re-assigned (or unassigned) since the date; no_data: no reporting carrier covers it")
    reason = serializers.CharField(required=False)


class NumberCheckResultSerializer(serializers.Serializer):
    results = NumberCheckAnswerSerializer(many=True)


class FeedEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    carrier = serializers.CharField()
    phone_number = serializers.CharField()
    type = serializers.ChoiceField(choices=["cancelled", "reassigned", "ported_out", "ported_in"])
    occurred_at = serializers.DateTimeField()


class NumberEventPageSerializer(serializers.Serializer):
    events = FeedEventSerializer(many=True)
    next_cursor = serializers.CharField()
    has_more = serializers.BooleanField()


EVENT_TYPES = ["cancelled", "reassigned", "ported_out", "ported_in"]


class NoticeSubscriptionRequestSerializer(serializers.Serializer):
    webhook_url = serializers.CharField(help_text="where notices are POSTed (https)")
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPES), min_length=1)
    enabled = serializers.BooleanField(default=True)
    new_secret = serializers.BooleanField(default=False, help_text="replace the signing secret (shown once in the answer)")


class NoticeSubscriptionSerializer(serializers.Serializer):
    app = serializers.CharField()
    webhook_url = serializers.CharField()
    event_types = serializers.ListField(child=serializers.CharField())
    enabled = serializers.BooleanField()
    key_id = serializers.CharField(help_text="X-Portal-Key-Id on every notice")
    secret = serializers.CharField(required=False, help_text="only when it was just made: keep it, it is not shown again")


class NoticeReportSerializer(serializers.Serializer):
    bindings_removed = serializers.IntegerField(min_value=0, max_value=10_000_000)


class NoticeReportResultSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    numbers = serializers.IntegerField()
    bindings_removed = serializers.IntegerField()
    reported_at = serializers.DateTimeField()
