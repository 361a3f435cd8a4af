"""A day of the portal's traffic for the restore drill (bench/restore_drill.py), through the portal's own
services and a real Celery worker calling the platform simulator: holders' lookups (code by SMS, then
one answer per member app), unbind requests, a carrier's monthly file and an API batch of number events
(and the recycled-number notices they send), complaints moved through their states by platforms,
holders and the working group, and the statistics rollups. Import after Django is set up."""

import random
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Value
from django.db.models.functions import Replace
from django.utils import timezone

from complaints import services as complaint_services
from complaints.models import Complaint
from complaints.statistics import statistics_refresh
from portal.core.refusals import Refusal
from portal.devtools.complaints_demo import load_statistics_demo
from portal.devtools.demo import CARRIER_SEGMENTS, SIMULATOR_URL, demo_carrier_file_rows, load_demo
from portal.lookup.models import Lookup
from portal.lookup.services import lookup_start
from portal.notices import delivery as notices
from portal.notices.models import NoticeDelivery, NoticeSubscription
from portal.recycling.models import NumberEventUpload
from portal.recycling.selectors import FEED_SETTLE_SECONDS
from portal.recycling.services import number_events_ingest
from portal.recycling.uploads import number_event_upload_create
from portal.sms.models import SmsMessage
from portal.unbinding import services
from portal.unbinding.models import UnbindRequest
from portal.verification.services import verification_code_send
from registry.models import Integration, MemberApp, Organisation, StaffUser

DEMO_CARRIER = "91110000MA0DEM005"
UNBIND_NUMBER = "13800130055"  # README's unbinding example: previous holders' accounts at most apps
Category, Answer, Relief = Complaint.Category, Complaint.Answer, Complaint.Relief


@dataclass
class Day:
    """What the traffic left for the drill to fetch again after the restore."""

    lookups: list[tuple[Lookup, str]] = field(default_factory=list)  # (lookup, access token)
    complaints: list[Complaint] = field(default_factory=list)
    refused_lookups: int = 0
    unbind_requests: int = 0


def load_demo_data(simulator_port: int) -> dict:
    """`manage.py load_demo`'s two steps (the command itself wants DEBUG on), then the demo's member apps
    and notice webhooks pointed at this drill's simulator instead of the one `make run` keeps on 8900."""
    made = load_demo() | load_statistics_demo()
    here = f"http://127.0.0.1:{simulator_port}"
    Integration.objects.update(base_url=Replace("base_url", Value(SIMULATOR_URL), Value(here)))
    NoticeSubscription.objects.update(webhook_url=Replace("webhook_url", Value(SIMULATOR_URL), Value(here)))
    return made


def _citizen(rng: random.Random, n: int) -> tuple[str, str, str]:
    """(number, last 6 ID characters, client address): two in three at the demo carrier, whose record the
    simulator keeps (last five digits and X); one in thirty gets the ID characters wrong."""
    if n % 3:
        number = f"{rng.choice(CARRIER_SEGMENTS[DEMO_CARRIER].split())}{rng.randrange(10**8):08d}"
        id_last6 = number[-5:] + ("X" if n % 30 != 7 else "1")
    else:
        number, id_last6 = f"186{rng.randrange(10**8):08d}", f"{rng.randrange(10**5):05d}X"  # another carrier's
    return number, id_last6, f"10.{n // 250}.{n % 250}.{rng.randrange(1, 250)}"


def lookup_as_holder(number: str, id_last6: str, client_ip: str) -> tuple[Lookup, str] | None:
    verification_code_send(phone_number=number, client_ip=client_ip)
    code = SmsMessage.objects.filter(phone_number=number).latest("pk").text.split("验证码 ")[1][:6]
    try:
        return lookup_start(phone_number=number, id_last6=id_last6, code=code)
    except Refusal:
        return None


def lookups(day: Day, rng: random.Random, count: int, first: int) -> None:
    for n in range(first, first + count):
        started = lookup_as_holder(*_citizen(rng, n))
        if started is None:
            day.refused_lookups += 1
        else:
            day.lookups.append(started)


def wait_for_lookups(day: Day, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    ids = [lookup.pk for lookup, _token in day.lookups]
    while Lookup.objects.filter(pk__in=ids, state=Lookup.State.RUNNING).exists() and time.monotonic() < deadline:
        time.sleep(0.3)


def unbind(day: Day, rng: random.Random, *, everything: Lookup | None = None, some: int = 3) -> None:
    """One holder unbinds everything (一键解绑); a few others one app each."""
    if everything is not None:
        day.unbind_requests += len(services.unbind_request_create(lookup=everything))
    for lookup, _token in rng.sample(day.lookups, min(some * 3, len(day.lookups))):
        lookup.refresh_from_db()
        candidates = lookup.queries.filter(accounts_previous__gt=0).values_list("app_id", flat=True)[:1]
        if candidates and some:
            day.unbind_requests += len(services.unbind_request_create(lookup=lookup, app_ids=list(candidates)))
            some -= 1


def carrier_file(rows: int = 2000) -> NumberEventUpload:
    """The demo carrier's monthly file, uploaded by its staff as on the console (read by the worker)."""
    lines = "\n".join(",".join(row) for row in demo_carrier_file_rows(rows=rows)) + "\n"
    carrier = Organisation.objects.get(credit_code__startswith=DEMO_CARRIER)
    return number_event_upload_create(
        carrier=carrier,
        uploaded_by=StaffUser.objects.get(email="carrier@demo.portal"),
        file=SimpleUploadedFile("demo-carrier-number-events.csv", lines.encode(), content_type="text/csv"),
    )


def carrier_batch(rng: random.Random, size: int = 300) -> dict:
    """A batch through the carriers' API (the same service): re-assignments today, a few cancellations."""
    carrier = Organisation.objects.get(credit_code__startswith=DEMO_CARRIER)
    now = timezone.now()
    events = [
        {
            "event_id": f"DRILL-PM-{n:05d}",
            "type": "reassigned" if n % 5 else "cancelled",
            "phone_number": f"{rng.choice(CARRIER_SEGMENTS[DEMO_CARRIER].split())}{rng.randrange(10**8):08d}",
            "occurred_at": (now - timedelta(hours=rng.randrange(1, 20))).isoformat(),
        }
        for n in range(size)
    ]
    return number_events_ingest(carrier=carrier, events=events)


COMPLAINT_MIX = [  # (category, the platform's answer, then the holder's feedback: a score or "dispute")
    (Category.DEBT_COLLECTION, (Answer.RELIEF, Relief.COLLECTION_STOPPED), 5),
    (Category.CANNOT_REGISTER, (Answer.RELIEF, Relief.UNBOUND), 4),
    (Category.BANNED, (Answer.EXPLANATION, ""), "dispute"),
    (Category.MARKETING, (Answer.IN_PROGRESS, ""), None),
    (Category.SOMEONE_ELSES_ACCOUNT, (Answer.RELIEF, Relief.UNBOUND), None),
    (Category.WRONG_TAG, None, None),
    (Category.PREVIOUS_HOLDER_LOSS, None, None),
]


def complaints_filed(day: Day, rng: random.Random, count: int) -> list[Complaint]:
    """Holders file about the demo platform's apps (and one about a company that is no member); most in
    Guangdong (44), the demo regulator's province, so that its statistics move with them."""
    apps = list(MemberApp.objects.filter(organisation__credit_code__startswith="91440300MA5DEM001").order_by("pk"))
    filed = []
    for n in range(count):
        number = f"139{rng.randrange(10**8):08d}"
        category = COMPLAINT_MIX[n % len(COMPLAINT_MIX)][0]
        member = n % 6 != 5
        filed.append(
            complaint_services.complaint_file(
                phone_number=number,
                category=category,
                app=apps[n % len(apps)] if member else None,
                respondent_name="" if member else "某某小额贷款 App",
                province="11" if n % 3 == 2 else "44",
                description=f"换号后旧账号仍收到消息（演练 {n}）。",
                email=f"holder{n}@example.cn" if n % 2 else "",
            )
        )
    day.complaints.extend(filed)
    return filed


def complaints_answered(complaints: list[Complaint]) -> None:
    staff = StaffUser.objects.get(email="platform@demo.portal")
    for n, complaint in enumerate(complaints):
        answer = COMPLAINT_MIX[n % len(COMPLAINT_MIX)][1]
        if complaint.app_id and answer:
            complaint_services.complaint_answer(
                complaint=complaint,
                by=staff,
                answer=answer[0],
                relief=answer[1],
                text="已核实并处理：旧账号已与该号码解绑。",
            )


def complaints_followed_up(complaints: list[Complaint]) -> None:
    """Holders rate or dispute the final answers; the working group rejects or closes the rest of triage."""
    admin = StaffUser.objects.get(email="admin@demo.portal")
    for n, complaint in enumerate(complaints):
        complaint.refresh_from_db()
        feedback = COMPLAINT_MIX[n % len(COMPLAINT_MIX)][2]
        if complaint.state == Complaint.State.ANSWERED and feedback is not None:
            complaint_services.complaint_feedback(
                complaint=complaint,
                dispute=feedback == "dispute",
                score=None if feedback == "dispute" else feedback,
                comment="谢谢",
            )
        elif complaint.state == Complaint.State.SUBMITTED:
            complaint_services.complaint_reject(
                complaint=complaint, by=admin, reason="非成员单位，已告知投诉人向工信部反映。"
            )


def settle(timeout: float = 120) -> dict[str, int]:
    """Wait (bounded) for the worker to finish what the traffic handed it; return what is still open."""
    deadline = time.monotonic() + timeout
    while True:
        still = {
            "lookups running": Lookup.objects.filter(state=Lookup.State.RUNNING).count(),
            "uploads being read": NumberEventUpload.objects.filter(
                state__in=[NumberEventUpload.State.QUEUED, NumberEventUpload.State.RUNNING]
            ).count(),
            "unbind pushes queued": UnbindRequest.objects.filter(
                delivery=UnbindRequest.Delivery.PUSH, state=UnbindRequest.State.QUEUED
            ).count(),
            "notices pending": NoticeDelivery.objects.filter(state=NoticeDelivery.State.PENDING).count(),
            "SMS queued": SmsMessage.objects.filter(status=SmsMessage.Status.QUEUED).count(),
        }
        if not any(still.values()) or time.monotonic() > deadline:
            return still
        time.sleep(0.5)


def morning(rng: random.Random, lookups_count: int) -> Day:
    """Before the backup."""
    day = Day()
    lookups(day, rng, lookups_count, first=0)
    unbind_lookup = lookup_as_holder(UNBIND_NUMBER, UNBIND_NUMBER[-5:] + "X", "10.9.9.9")
    day.lookups.append(unbind_lookup)
    carrier_file()
    filed = complaints_filed(day, rng, 8)
    complaints_answered(filed)
    wait_for_lookups(day)
    unbind(day, rng, everything=unbind_lookup[0])
    statistics_refresh()
    return day


def afternoon(rng: random.Random, morning_day: Day, lookups_count: int) -> Day:
    """After the backup: only the archived WAL holds it."""
    day = Day()
    lookups(day, rng, lookups_count, first=1000)
    carrier_batch(rng)
    complaints_followed_up(morning_day.complaints)
    filed = complaints_filed(day, rng, 5)
    complaints_answered(filed[:2])
    wait_for_lookups(day)
    unbind(day, rng, some=2)
    time.sleep(FEED_SETTLE_SECONDS + 0.5)
    notices.sweep()  # as beat does every 5 s: plans the notices of the batch's settled events
    statistics_refresh()
    return day


def summary(day: Day) -> str:
    states = {}
    for complaint in Complaint.objects.filter(pk__in=[c.pk for c in day.complaints]):
        states[complaint.state] = states.get(complaint.state, 0) + 1
    return (
        f"{len(day.lookups)} lookups ({day.refused_lookups} refused: wrong ID characters), "
        f"{day.unbind_requests} unbind requests, {len(day.complaints)} complaints now "
        + ", ".join(f"{state} {n}" for state, n in sorted(states.items()))
    )
