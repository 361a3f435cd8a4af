from rest_framework import serializers

from portal.models import NumberEvent
from portal.phone import to_e164

EVENT_TYPES = NumberEvent.Type.values


class CaptchaSerializer(serializers.Serializer):
    captcha_key = serializers.CharField(help_text="send it back as captcha_key")
    image_url = serializers.CharField(help_text="the picture (PNG) to show; its characters are the answer")
    expires_in_seconds = serializers.IntegerField()


class VerificationCodeRequestSerializer(serializers.Serializer):
    phone_number = serializers.CharField(max_length=20)
    captcha_key = serializers.CharField(max_length=40, help_text="from POST /api/v1/captcha")
    captcha_answer = serializers.CharField(max_length=32, help_text="the characters in its picture (tried once)")


class VerificationCodeSentSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="the same for every number: if this number can receive a code, one was sent")
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


class UnbindStateSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    app = serializers.CharField()
    state = serializers.ChoiceField(choices=["queued", "sent", "done", "refused"],
                                    help_text="queued: not yet with the platform; sent: with the platform; done; refused")
    state_label = serializers.CharField()
    accounts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    deadline_at = serializers.DateTimeField(help_text="5 working days after the request")
    working_days_left = serializers.IntegerField(allow_null=True)
    overdue = serializers.BooleanField(help_text="not answered and past the deadline")
    answered_at = serializers.DateTimeField(allow_null=True)
    refusal_reason = serializers.CharField(allow_blank=True)
    complaint_url = serializers.CharField(allow_null=True, help_text="offered once refused or overdue (a pre-filled complaint)")


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
    unbindable = serializers.BooleanField(help_text="accounts likely the previous holder's can be sent for unbinding")
    unbind = UnbindStateSerializer(allow_null=True)


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
    unbindable_apps = serializers.IntegerField()


class UnbindCreateSerializer(serializers.Serializer):
    app_ids = serializers.ListField(child=serializers.IntegerField(), required=False,
                                    help_text="the apps to ask; leave out (or send all: true) for every app (一键解绑)")
    all = serializers.BooleanField(required=False, default=False)


class UnbindCreatedSerializer(serializers.Serializer):
    unbind_requests = UnbindStateSerializer(many=True)


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
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, help_text="required with refused; the holder reads it")


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
    answer = serializers.ChoiceField(choices=["yes", "no", "no_data", "invalid"],
                                     help_text="yes: re-assigned (or unassigned) since the date; no_data: no reporting carrier covers it")
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
    disabled_at = serializers.DateTimeField(
        allow_null=True,
        help_text="set when the portal stopped sending (the webhook failed for 5 days, or answered 410); "
                  "a PUT with enabled=true sends again")
    disabled_reason = serializers.CharField(allow_blank=True)
    key_id = serializers.CharField(help_text="names the current secret, so the member can tell secrets apart (not sent on notices)")
    secret = serializers.CharField(required=False, help_text="only when it was just made: keep it, it is not shown again")


class NoticeReportSerializer(serializers.Serializer):
    bindings_removed = serializers.IntegerField(min_value=0, max_value=10_000_000)


class NoticeReportResultSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    numbers = serializers.IntegerField()
    bindings_removed = serializers.IntegerField()
    reported_at = serializers.DateTimeField()
