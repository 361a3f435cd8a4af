"""The rollups follow changes (incremental refresh, as beat runs it); the demo statistics load once."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from complaints import services
from complaints.models import Complaint, ComplaintDay
from complaints.statistics.services import statistics_refresh
from portal.devtools.complaints_demo import load_statistics_demo
from portal.devtools.demo import load_demo
from tests.complaints.statistics.helpers import make_case
from tests.registry.factories import StaffUserFactory

pytestmark = pytest.mark.django_db


def test_the_periodic_refresh_follows_new_and_changed_cases():
    admin = StaffUserFactory()
    old = make_case(received_at=timezone.now() - timedelta(days=40), state=Complaint.State.SUBMITTED)
    statistics_refresh(full=True)
    day = timezone.localdate(old.received_at)
    assert ComplaintDay.objects.get(day=day, dims=ComplaintDay.ALL_DIMS).state == "submitted"

    services.complaint_close(complaint=old, by=admin, note="重复投诉")  # a change through the service: an event
    make_case(received_at=timezone.now())  # a new case today
    statistics_refresh()  # what beat runs: recent days and the days of changed cases only
    assert ComplaintDay.objects.get(day=day, dims=ComplaintDay.ALL_DIMS).state == "closed"
    assert ComplaintDay.objects.filter(day=timezone.localdate()).exists()
    assert settings.CELERY_BEAT_SCHEDULE["statistics-refresh"]["task"] == "complaints.tasks.statistics_refresh"


def test_demo_statistics_load_once():
    load_demo()
    first = load_statistics_demo(complaints=60, lookups=20)
    assert first["complaints"] == 60 and ComplaintDay.objects.exists()
    assert load_statistics_demo(complaints=60, lookups=20) == {"complaints": 0, "lookups": 0, "number_events": 0}
