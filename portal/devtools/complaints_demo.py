"""Demo statistics for `make run`: a year of complaints, lookups and re-assigned numbers spread over the
demo members, so the regulators' dashboard and the open-data page are not empty. Fast (bulk inserts, a
few hundred rows) and idempotent (skipped when the demo rows exist). Reproducible (fixed seed)."""

import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from complaints.models import Complaint
from complaints.statistics.services import statistics_refresh
from portal.lookup.models import Lookup, LookupQuery
from portal.recycling.models import NumberEvent
from registry.models import MemberApp, Organisation

DEMO_PREFIX = "DM"
DEMO_TOKEN = "demo-statistics"
PROVINCES = ["44"] * 8 + ["11", "31", "33", "32", "37", "51", "42", "35", "50", "61", "13", "45", "53", "64"]
CATEGORY_WEIGHTS = [
    (Complaint.Category.DEBT_COLLECTION, 30),
    (Complaint.Category.CANNOT_REGISTER, 20),
    (Complaint.Category.MARKETING, 14),
    (Complaint.Category.BANNED, 10),
    (Complaint.Category.SOMEONE_ELSES_ACCOUNT, 8),
    (Complaint.Category.WRONG_TAG, 6),
    (Complaint.Category.PREVIOUS_HOLDER_LOSS, 5),
    (Complaint.Category.UNBIND_NOT_HANDLED, 4),
    (Complaint.Category.OTHER, 3),
]


def _complaint(rng: random.Random, n: int, received, app, carriers, now) -> Complaint:
    category = rng.choices([c for c, _w in CATEGORY_WEIGHTS], [w for _c, w in CATEGORY_WEIGHTS])[0]
    c = Complaint(
        reference=f"{DEMO_PREFIX}{received:%Y%m%d}-{n:04d}",
        category=category,
        app=app,
        organisation=app.organisation,
        carrier=rng.choice(carriers) if carriers and rng.random() < 0.8 else None,
        province=rng.choice(PROVINCES),
        phone_hash=f"demo-{n}",
        received_at=received,
        accepted_at=received + timedelta(hours=6),
        purged_at=received,  # no personal data in demo cases
    )
    c.sent_at = received + timedelta(days=1)
    c.answer_due_at = c.sent_at + timedelta(days=15)
    c.final_due_at = c.sent_at + timedelta(days=60)
    # platforms differ: the first apps answer quickly, later ones slowly
    speed = 4 + (app.pk % 5) * 4
    answer_after = timedelta(days=rng.randint(1, speed + 6), hours=rng.randint(0, 20))
    if c.sent_at + answer_after > now:
        c.state = Complaint.State.SENT
        if c.answer_due_at < now:
            c.state, c.escalated_at, c.timely = Complaint.State.ESCALATED, c.answer_due_at, False
        return c
    c.first_answer_at = c.answered_at = c.sent_at + answer_after
    c.timely = c.answered_at <= c.answer_due_at
    c.answer = rng.choice([Complaint.Answer.RELIEF, Complaint.Answer.RELIEF, Complaint.Answer.EXPLANATION])
    c.relief = Complaint.Relief.UNBOUND if c.answer == Complaint.Answer.RELIEF else ""
    c.state = Complaint.State.ANSWERED
    if c.answered_at + timedelta(days=3) < now:
        if rng.random() < (0.8 if c.timely else 0.45):
            c.feedback, c.feedback_score = Complaint.Feedback.SATISFIED, rng.randint(3, 5)
            c.state, c.closed_at = Complaint.State.CLOSED, c.answered_at + timedelta(days=3)
        else:
            c.feedback, c.feedback_score = Complaint.Feedback.DISPUTED, rng.randint(1, 2)
            c.state, c.escalated_at = Complaint.State.ESCALATED, c.answered_at + timedelta(days=3)
        c.feedback_at = c.answered_at + timedelta(days=3)
    return c


@transaction.atomic
def load_statistics_demo(*, complaints: int = 360, lookups: int = 420) -> dict:
    created = {"complaints": 0, "lookups": 0, "number_events": 0}
    apps = list(
        MemberApp.objects.select_related("organisation")
        .exclude(organisation__kind__in=Organisation.CARRIER_KINDS)
        .order_by("pk")
    )
    carriers = list(Organisation.objects.filter(kind__in=Organisation.CARRIER_KINDS).order_by("pk"))
    if not apps:
        return created
    rng, now = random.Random(2026), timezone.now()
    if not Complaint.objects.filter(reference__startswith=DEMO_PREFIX).exists():
        rows = []
        for n in range(complaints):
            # more complaints lately, and more for the first (larger) apps
            received = now - timedelta(days=365 * rng.random() ** 1.3, minutes=rng.randint(0, 600))
            app = apps[min(int(rng.expovariate(0.25)), len(apps) - 1)]
            rows.append(_complaint(rng, n, received, app, carriers, now))
        Complaint.objects.bulk_create(rows)
        created["complaints"] = len(rows)
    if not Lookup.objects.filter(access_token_hash=DEMO_TOKEN).exists():
        lookup_rows = []
        for n in range(lookups):
            at = now - timedelta(days=365 * rng.random(), minutes=rng.randint(0, 600))
            found = rng.randint(0, 4)
            lookup_rows.append(
                Lookup(
                    phone_hash=f"demo-{n}",
                    access_token_hash=DEMO_TOKEN,
                    state=Lookup.State.COMPLETED,
                    created_at=at,
                    completed_at=at + timedelta(seconds=3),
                    purged_at=at,
                    apps_total=len(apps),
                    apps_with_accounts=found,
                    accounts_total=found + rng.randint(0, 2),
                    accounts_previous=rng.randint(0, found),
                )
            )
        Lookup.objects.bulk_create(lookup_rows)
        LookupQuery.objects.bulk_create(
            [
                LookupQuery(
                    lookup=lookup,
                    app=app,
                    deadline_at=lookup.created_at,
                    state=LookupQuery.State.ANSWERED if rng.random() < 0.3 else LookupQuery.State.NO_ACCOUNT,
                )
                for lookup in lookup_rows
                for app in apps
            ]
        )
        created["lookups"] = len(lookup_rows)
    if carriers and not NumberEvent.objects.filter(event_id__startswith="demo-").exists():
        events = []
        for n in range(120):
            at = now - timedelta(days=365 * rng.random())
            breach = rng.random() < 0.05
            events.append(
                NumberEvent(
                    carrier=carriers[n % len(carriers)],
                    event_id=f"demo-{n}",
                    phone_number=f"1380000{n:04d}",
                    type=NumberEvent.Type.REASSIGNED,
                    occurred_at=at,
                    freeze_breach=breach,
                    days_since_cancellation=rng.randint(30, 89) if breach else rng.randint(90, 200),
                )
            )
        NumberEvent.objects.bulk_create(events)
        created["number_events"] = len(events)
    if any(created.values()):
        statistics_refresh(full=True)
    return created
