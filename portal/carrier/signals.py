"""A carrier's lookup or renewal settles as soon as its last piece does: when its Lookup completes, or
when one of its unbind requests is answered. Receivers of the models' saves, so the lookup and
unbinding code need not know of carriers; the sweeper (services.carrier_sweep) catches what a crash
between the commit and this loses."""

from django.db import transaction

from portal.carrier import services
from portal.carrier.models import CarrierAction
from portal.lookup.models import Lookup
from portal.unbinding.models import UnbindRequest


def _settle_after_commit(lookup_id) -> None:
    ids = list(
        CarrierAction.objects.filter(lookup_id=lookup_id, state=CarrierAction.State.RUNNING).values_list(
            "pk", flat=True
        )
    )
    for action_id in ids:
        transaction.on_commit(lambda action_id=action_id: services.carrier_action_settle(action_id=action_id))


def lookup_saved(sender, instance: Lookup, **kwargs) -> None:
    if instance.origin == Lookup.Origin.CARRIER_LOOKUP and instance.state == Lookup.State.COMPLETED:
        _settle_after_commit(instance.pk)


def unbind_request_saved(sender, instance: UnbindRequest, **kwargs) -> None:
    if instance.state in UnbindRequest.OPEN:
        return
    if Lookup.objects.filter(pk=instance.lookup_id, origin=Lookup.Origin.CARRIER_RENEWAL).exists():
        _settle_after_commit(instance.lookup_id)
