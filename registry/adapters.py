"""allauth hooks: no open sign-up, and TOTP seeds encrypted at rest."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator

from portal import crypto


class StaffAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        # Staff are invited by administrators (registry.services.staff_invite); nobody signs up.
        return False


class StaffMFAAdapter(DefaultMFAAdapter):
    def encrypt(self, text: str) -> str:
        return crypto.encrypt(text)

    def decrypt(self, encrypted_text: str) -> str:
        return crypto.decrypt(encrypted_text)

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        # TOTP is mandatory for staff; a lost phone is reset by an administrator, not switched off.
        return authenticator.type != Authenticator.Type.TOTP
