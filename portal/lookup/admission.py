"""Admission of new lookups: past what the workers can hold, the portal says "busy, try again in a
minute" at once (503 with Retry-After) instead of queueing lookups without end (issue 17, §3).

The bound is the number of lookups started and not yet completed (LOOKUPS_IN_FLIGHT_MAX; 0 turns it
off). Every lookup in flight has its member calls queued or running, so bounding them bounds the
broker's queue and the time a new lookup's first call waits for a worker (about in-flight / the rate
the workers complete lookups). Lookups older than IN_FLIGHT_WINDOW are not counted: a lookup stuck that
long is the sweeper's business, and must not keep the door shut. The count and the new lookup are not
one transaction: requests admitted at the same moment may pass the bound by as many as the web workers.

It is asked twice, both before anything is spent: before a lookup's SMS code is sent (nobody waits for a
code they cannot use; through verification's `code_requested` signal, connected in portal/apps.py) and before
the code is checked (the code is not used up, so the person tries again with the same code). Overloaded
(portal/core/errors.py) is one of DEPENDENCY_ERRORS ("capacity"), so pages answer 503 with the form as typed,
and the API its JSON envelope with Retry-After.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from portal.core.errors import Overloaded
from portal.lookup.models import Lookup
from portal.verification.models import VerificationCode

IN_FLIGHT_WINDOW = timedelta(minutes=5)  # longer than a lookup's deadlines and its members' 202 callbacks


def lookups_in_flight() -> int:
    """Lookups started and not yet completed (recent ones; a partial index keeps the count small)."""
    since = timezone.now() - IN_FLIGHT_WINDOW
    return Lookup.objects.filter(state=Lookup.State.RUNNING, created_at__gte=since).count()


def lookup_admit() -> None:
    """Raise Overloaded when a new lookup would exceed LOOKUPS_IN_FLIGHT_MAX."""
    limit = settings.LOOKUPS_IN_FLIGHT_MAX
    if not limit:
        return
    in_flight = lookups_in_flight()
    if in_flight >= limit:  # logged where it is answered (errors.log_failure), with the reference shown
        raise Overloaded(in_flight)


def on_code_requested(*, purpose: str, **_signal) -> None:
    """verification.services.code_requested: a code for a lookup is refused while lookups cannot start."""
    if purpose == VerificationCode.Purpose.LOOKUP:
        lookup_admit()  # busy: refused before an SMS is spent on a lookup that could not start
