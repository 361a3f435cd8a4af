from rest_framework import serializers


class RefusalSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    retry_at = serializers.DateTimeField(allow_null=True)
