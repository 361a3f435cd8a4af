"""allauth hooks: no open sign-up, the portal's client address, and TOTP seeds encrypted at rest."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator

from portal.core import crypto
from portal.core.client_address import client_address


class StaffAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        # Staff are invited by administrators (registry.services.staff_invite); nobody signs up.
        return False

    def get_client_ip(self, request) -> str:
        # allauth's login limits count per address exactly as the SMS-code limits do.
        return client_address(request) or super().get_client_ip(request)


class StaffMFAAdapter(DefaultMFAAdapter):
    def encrypt(self, text: str) -> str:
        return crypto.encrypt(text)

    def decrypt(self, encrypted_text: str) -> str:
        return crypto.decrypt(encrypted_text)

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        # TOTP is mandatory for staff; a lost phone is reset by an administrator, not switched off.
        return authenticator.type != Authenticator.Type.TOTP
