from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = _("Member registry")

    def ready(self):
        # imported here, not at the top: they need the models, which are loaded only once ready() runs
        from allauth.account.signals import authentication_step_completed
        from allauth.mfa.signals import authenticator_added
        from django.contrib.auth.signals import user_logged_in

        from registry import middleware

        # the staff sign-in rules (registry/middleware.py) learn here when a session passed TOTP and when it began
        authentication_step_completed.connect(
            middleware.on_authentication_step, dispatch_uid="staff-second-factor-step"
        )
        authenticator_added.connect(middleware.on_authenticator_added, dispatch_uid="staff-second-factor-added")
        user_logged_in.connect(middleware.on_logged_in, dispatch_uid="staff-session-start")
