from celery import shared_task

from portal.lookup import fanout
from portal.lookup.services import lookup_purge as purge
from portal.lookup.services import lookup_sweep as sweep


@shared_task(acks_late=True, name="portal.tasks.lookup_queries_run")
def lookup_queries_run(query_ids: list[int]) -> None:
    """Call a batch of member apps for their lookup rows (idempotent: settled rows are skipped)."""

    fanout.run(query_ids)


@shared_task(acks_late=True, name="portal.tasks.lookup_calls_run")
def lookup_calls_run(sealed_specs: str) -> None:
    """The first attempt of a new lookup's calls (built by lookup_start), sealed with the field keys:
    the message carries no number in clear and no signing secret."""

    fanout.run_specs(fanout.unseal_specs(sealed_specs))


@shared_task(name="portal.tasks.lookup_sweep")
def lookup_sweep() -> int:
    return sweep()


@shared_task(name="portal.tasks.lookup_purge")
def lookup_purge() -> int:
    return purge()
