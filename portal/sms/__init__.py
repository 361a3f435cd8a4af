"""The SMS gateway: pluggable backends like Django's email backends (settings.SMS_BACKEND).

Every message is an `SmsMessage` row with its status; `sms_send` records it and a Celery task delivers
it after the transaction commits, retrying a provider that fails.
"""
