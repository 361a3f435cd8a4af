import random
from datetime import timedelta

import pytest
from django.utils import timezone

from complaints.models import Complaint
from complaints.statistics.services import statistics_refresh
from registry.models import Organisation
from tests.complaints.statistics.helpers import make_case
from tests.registry.factories import MemberAppFactory, OrganisationFactory


@pytest.fixture
def world():
    """Two platforms, two carriers, and 160 cases spread over this period and the previous one, in three
    provinces, with every kind of outcome; a merged duplicate that must not be counted."""
    rng = random.Random(6)
    platforms = [MemberAppFactory(organisation=OrganisationFactory(legal_name=name)) for name in ("甲平台", "乙平台")]
    carriers = [
        OrganisationFactory(kind=Organisation.Kind.BASIC_CARRIER, legal_name=name) for name in ("甲移动", "乙联通")
    ]
    now = timezone.now()
    cases = []
    for _n in range(160):
        received = now - timedelta(days=rng.uniform(0, 175), hours=rng.randint(0, 23))
        case = dict(
            received_at=received,
            category=rng.choice(Complaint.Category.values[:4]),
            province=rng.choice(["44", "44", "11", "31"]),
            app=rng.choice(platforms + [None]),
            carrier=rng.choice(carriers + [None]),
            state=Complaint.State.SENT,
        )
        if rng.random() < 0.7:
            case.update(
                answered_at=received + timedelta(days=rng.uniform(1, 30)),
                timely=rng.random() < 0.75,
                state=Complaint.State.ANSWERED,
            )
            if rng.random() < 0.6:
                case.update(feedback=rng.choice(Complaint.Feedback.values), state=Complaint.State.CLOSED)
        elif rng.random() < 0.3:
            case.update(timely=False, escalated_at=received + timedelta(days=16), state=Complaint.State.ESCALATED)
        cases.append(make_case(**case))
    make_case(received_at=now - timedelta(days=2), merged_into=cases[0], state=Complaint.State.CLOSED)
    statistics_refresh(full=True)
    return {"platforms": platforms, "carriers": carriers}
