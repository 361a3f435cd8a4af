from rest_framework import serializers

from registry.models import Integration, MemberApp


class IntegrationSerializer(serializers.ModelSerializer):
    active_key_ids = serializers.SerializerMethodField()

    class Meta:
        model = Integration
        fields = [
            "base_url",
            "timeout_ms",
            "max_requests_per_second",
            "enabled",
            "last_success_at",
            "consecutive_failures",
            "active_key_ids",
        ]

    def get_active_key_ids(self, obj) -> list[str]:
        return [k.key_id for k in obj.keys.all() if k.revoked_at is None]


class MemberAppSerializer(serializers.ModelSerializer):
    organisation = serializers.CharField(source="organisation.legal_name")
    integration = IntegrationSerializer(read_only=True, allow_null=True)

    class Meta:
        model = MemberApp
        fields = [
            "id",
            "name",
            "organisation",
            "category",
            "unbind_instructions",
            "unbind_url",
            "supports_lookup",
            "supports_unbind",
            "supports_recycling_notices",
            "go_live_date",
            "integration",
        ]
