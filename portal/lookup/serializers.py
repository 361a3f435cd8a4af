from rest_framework import serializers

from portal.unbinding.serializers import UnbindStateSerializer


class LookupRequestSerializer(serializers.Serializer):
    phone_number = serializers.CharField(max_length=20)
    id_last6 = serializers.CharField(max_length=6)
    code = serializers.CharField(max_length=6)


class LookupCreatedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    access_token = serializers.CharField()
    status_url = serializers.CharField()


class LookupAppSerializer(serializers.Serializer):
    app = serializers.CharField()
    app_id = serializers.IntegerField()
    category = serializers.CharField()
    state = serializers.ChoiceField(
        choices=["waiting", "running", "answered", "no_account", "error", "timed_out", "unavailable"]
    )
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
    app_ids = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        help_text="the apps to ask; leave out (or send all: true) for every app (一键解绑)",
    )
    all = serializers.BooleanField(required=False, default=False)


class UnbindCreatedSerializer(serializers.Serializer):
    unbind_requests = UnbindStateSerializer(many=True)
