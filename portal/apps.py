from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Portal")

    def ready(self):
        # imported here, not at the top: they need the models, which are loaded only once ready() runs
        from django.db.models.signals import post_delete, post_save

        from portal.carrier import signals as carrier_signals
        from portal.core import checks  # noqa: F401  (registers the deployment checks)
        from portal.lookup.admission import on_code_requested
        from portal.verification.services import code_requested
        from registry.carriers import carrier_segments_forget

        # the recycling checks keep the carriers' segments for 30 s; a change made here is seen at once
        for signal in (post_save, post_delete):
            signal.connect(
                carrier_segments_forget, sender="registry.Organisation", dispatch_uid=f"carrier-segments-{signal}"
            )
        # a code for a lookup is refused while lookups cannot start (issue 17 §3: load is shed, not queued)
        code_requested.connect(on_code_requested, dispatch_uid="lookup-admission")
        # a carrier's lookup or renewal settles when its last piece does (portal/carrier/signals.py)
        post_save.connect(carrier_signals.lookup_saved, sender="portal.Lookup", dispatch_uid="carrier-lookup-saved")
        post_save.connect(
            carrier_signals.unbind_request_saved,
            sender="portal.UnbindRequest",
            dispatch_uid="carrier-unbind-request-saved",
        )
