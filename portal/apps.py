from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Portal")

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from portal import checks  # noqa: F401  (registers the deployment checks)

        from portal.selectors import carrier_segments_forget

        # the recycling checks keep the carriers' segments for 30 s; a change made here is seen at once
        for signal in (post_save, post_delete):
            signal.connect(carrier_segments_forget, sender="registry.Organisation", dispatch_uid=f"carrier-segments-{signal}")
        from portal.carrier import signals as carrier_signals

        # a carrier's lookup or renewal settles when its last piece does (portal/carrier/signals.py)
        post_save.connect(carrier_signals.lookup_saved, sender="portal.Lookup", dispatch_uid="carrier-lookup-saved")
        post_save.connect(carrier_signals.unbind_request_saved, sender="portal.UnbindRequest",
                          dispatch_uid="carrier-unbind-request-saved")
