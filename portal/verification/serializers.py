from rest_framework import serializers


class CaptchaSerializer(serializers.Serializer):
    captcha_key = serializers.CharField(help_text="send it back as captcha_key")
    image_url = serializers.CharField(help_text="the picture (PNG) to show; its characters are the answer")
    expires_in_seconds = serializers.IntegerField()


class VerificationCodeRequestSerializer(serializers.Serializer):
    phone_number = serializers.CharField(max_length=20)
    captcha_key = serializers.CharField(max_length=40, help_text="from POST /api/v1/captcha")
    captcha_answer = serializers.CharField(max_length=32, help_text="the characters in its picture (tried once)")


class VerificationCodeSentSerializer(serializers.Serializer):
    detail = serializers.CharField(
        help_text="the same for every number: if this number can receive a code, one was sent"
    )
    expires_in_seconds = serializers.IntegerField()
    resend_after_seconds = serializers.IntegerField()
