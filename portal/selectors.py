"""Reads for the portal itself: the health of the parts the site depends on."""

import hmac
import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu import Connection

from portal.models import Lookup, LookupQuery, NumberEvent, SmsMessage, WorkerHeartbeat
from portal.privacy import token_hash

logger = logging.getLogger(__name__)


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        logger.exception("health: database unreachable")
        return False


def broker_ok() -> bool:
    try:
        transport_options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
        with Connection(settings.CELERY_BROKER_URL, transport_options=transport_options, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:
        logger.exception("health: broker unreachable")
        return False


def live_workers() -> list[str]:
    since = timezone.now() - timedelta(seconds=settings.WORKER_STALE_AFTER_SECONDS)
    try:
        return list(WorkerHeartbeat.objects.filter(seen_at__gte=since).values_list("hostname", flat=True))
    except Exception:
        return []


def health_report() -> dict:
    """{'database': 'ok'|'down', 'broker': ..., 'worker': ...} plus the names of live workers."""
    db = database_ok()
    workers = live_workers() if db else []
    return {
        "database": "ok" if db else "down",
        "broker": "ok" if broker_ok() else "down",
        "worker": "ok" if workers else "down",
        "workers": sorted(workers),
    }


def sms_outbox(*, limit: int = 50):
    return SmsMessage.objects.order_by("-created_at", "-pk")[:limit]


def sms_outbox_shows_text() -> bool:
    """Message texts (codes) are shown only by the development outbox backend, never in production."""
    return settings.SMS_BACKEND.endswith(".DatabaseBackend")


def lookup_result(lookup) -> dict:
    """What the holder sees of a lookup, for the page, its live updates and the API alike."""
    from registry.models import MemberApp

    order = {value: index for index, value in enumerate(MemberApp.Category.values)}  # the directory's order
    unbinds = {r.app_id: r for r in lookup.unbind_requests.select_related("app")}
    rows = []
    for q in sorted(lookup.queries.select_related("app__organisation"), key=lambda q: (order.get(q.app.category, 99), q.app.name)):
        rows.append({
            "app": q.app.name,
            "app_id": q.app_id,
            "category": q.app.get_category_display(),
            "state": q.state,
            "state_label": str(LookupQuery.State(q.state).label),
            "accounts": q.accounts_total,
            "accounts_previous": q.accounts_previous,
            "settled": q.is_settled,
            "unbind_instructions": q.app.unbind_instructions,
            "unbind_url": q.app.unbind_url,
            # accounts likely the previous holder's can be sent for unbinding, once per app
            "unbindable": bool(q.accounts_previous) and q.app_id not in unbinds and not lookup.purged_at
            and q.app.organisation.status == "active",
            "unbind": unbind_view(unbinds[q.app_id]) if q.app_id in unbinds else None,
        })
    settled = sum(1 for r in rows if r["settled"])
    return {
        "id": str(lookup.pk),
        "state": lookup.state,
        "phone_number": lookup.masked_phone_number,
        "created_at": lookup.created_at.isoformat(),
        "completed_at": lookup.completed_at.isoformat() if lookup.completed_at else None,
        "progress": {"settled": settled, "total": len(rows)},
        "summary": {
            "apps_with_accounts": sum(1 for r in rows if r["accounts"]),
            "accounts_total": sum(r["accounts"] for r in rows),
            "accounts_previous": sum(r["accounts_previous"] for r in rows),
        },
        "apps": rows,
        "unbindable_apps": sum(1 for r in rows if r["unbindable"]),
    }


def lookup_list_recent(*, limit: int = 200):
    # a carrier's renewal (portal/carrier/) keeps its number on a Lookup that asks nobody: not a lookup
    return Lookup.objects.exclude(origin=Lookup.Origin.CARRIER_RENEWAL).order_by("-created_at")[:limit]


# --- Lookups ---------------------------------------------------------------------------------------------


def carrier_for_number(phone_number: str):
    """The active carrier or MVNO member that issued the number: the one whose segment is the longest
    prefix of it (an MVNO's 1703 beats a carrier's 170), or None."""
    from registry.models import Organisation

    best, best_length = None, 0
    carriers = Organisation.objects.filter(
        status=Organisation.Status.ACTIVE, kind__in=[Organisation.Kind.BASIC_CARRIER, Organisation.Kind.MVNO]
    ).exclude(number_segments="")
    for carrier in carriers:
        for segment in carrier.number_segments.split():
            if phone_number.startswith(segment) and len(segment) > best_length:
                best, best_length = carrier, len(segment)
    return best


def carrier_identity_app(phone_number: str):
    """The app of the number's carrier that checks identities, if it has one switched on."""
    carrier = carrier_for_number(phone_number)
    if carrier is None:
        return None
    return carrier.apps.filter(supports_identity_check=True, integration__enabled=True).select_related("integration").first()


def lookup_app_keys() -> list[dict]:
    """For every app a lookup asks (active members, live, with the lookup capability and a keyed
    integration that is switched on): its integration, its health (for the circuit breaker) and its
    newest valid key's id (workers sign with its secret; protocol v2 needs no secret to build a
    request). One query for plain values, not model instances: this runs for every lookup and every
    member app."""
    from registry.models import IntegrationKey, Organisation

    newest = {}
    for row in (
        IntegrationKey.objects.filter(
            revoked_at__isnull=True,
            integration__enabled=True,
            integration__app__supports_lookup=True,
            integration__app__go_live_date__lte=timezone.localdate(),
            integration__app__organisation__status=Organisation.Status.ACTIVE,
        )
        .order_by("created_at", "pk")
        .values("key_id", "integration_id", "integration__app_id", "integration__base_url",
                "integration__timeout_ms", "integration__max_requests_per_second",
                "integration__consecutive_failures", "integration__last_failure_at")
    ):
        newest[row["integration__app_id"]] = row  # ordered oldest first: the newest key wins
    return list(newest.values())


def lookups_open_to_holder():
    """The lookups a holder may still open (with the token, or from the browser that made them): those
    within LOOKUP_RETENTION_DAYS, which lookup_purge empties afterwards. A token ends with its lookup."""
    cutoff = timezone.now() - timedelta(days=settings.LOOKUP_RETENTION_DAYS)
    return Lookup.objects.filter(created_at__gte=cutoff, purged_at__isnull=True)


def lookup_for_token(*, lookup_id, token: str) -> Lookup | None:
    lookup = lookups_open_to_holder().filter(pk=lookup_id).first()
    if lookup and token and hmac.compare_digest(lookup.access_token_hash, token_hash(token)):
        return lookup
    return None


def holder_since(phone_number: str):
    """When the current holder got the number: the date of its latest re-assignment a carrier
    reported, or None when no carrier said."""
    latest = (
        NumberEvent.objects.filter(phone_number=phone_number, type=NumberEvent.Type.REASSIGNED, occurred_at__lte=timezone.now())
        .order_by("-occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )
    return timezone.localtime(latest).date() if latest else None


def number_recycled_since(*, phone_number: str, since) -> bool | None:
    """CAMARA Number Recycling: has the subscriber changed after `since`? True when the number was
    cancelled or re-assigned after that date (so also when it was unassigned on it); None when no
    reporting carrier covers the number."""
    return numbers_recycled_since(checks=[(phone_number, since)])[0]


def newest_number_event_id() -> int:
    """The id of the newest number event (0 when none): where the notice feeds start and stand."""
    return NumberEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


CARRIER_SEGMENTS_SECONDS = 30
_carrier_segments: tuple[float, tuple[str, ...]] = (0.0, ())


def carrier_segments() -> tuple[str, ...]:
    """The number segments of the active reporting carriers, kept in this process for 30 s: at a thousand
    checks a second the query was half of each check's database work (bench/checks.py). A change to an
    organisation in this process forgets them at once (portal.apps); other processes follow within 30 s."""
    global _carrier_segments
    import time

    from registry.models import Organisation

    expires, segments = _carrier_segments
    if time.monotonic() < expires:
        return segments
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT number_segments FROM {Organisation._meta.db_table} WHERE status = %s AND kind IN (%s, %s) AND number_segments <> ''",
            [Organisation.Status.ACTIVE, Organisation.Kind.BASIC_CARRIER, Organisation.Kind.MVNO],
        )
        segments = tuple(segment for (line,) in cursor.fetchall() for segment in line.split())
    _carrier_segments = (time.monotonic() + CARRIER_SEGMENTS_SECONDS, segments)
    return segments


def carrier_segments_forget(**_signal) -> None:
    global _carrier_segments
    _carrier_segments = (0.0, ())


def numbers_recycled_since(*, checks: list[tuple[str, object]]) -> list[bool | None]:
    """`number_recycled_since` for many (number, date) pairs at once: one query whatever their number
    (the histories of all the numbers asked; the reporting carriers' segments are kept for 30 s). Written
    in SQL: at a thousand checks a second, building the query with the ORM cost more than running it
    (bench/checks.py)."""
    from datetime import datetime, time as dt_time

    # a number no member carrier issued has no reported history: no data (as carrier_for_number)
    segments = carrier_segments()
    covered = {phone for phone, _since in checks if segments and phone.startswith(segments)}
    histories: dict[str, list] = {}
    with connection.cursor() as cursor:
        if covered:
            cursor.execute(
                f"SELECT phone_number, occurred_at, type FROM {NumberEvent._meta.db_table}"
                f" WHERE phone_number IN ({', '.join(['%s'] * len(covered))}) AND type IN (%s, %s) ORDER BY occurred_at",
                [*covered, NumberEvent.Type.CANCELLED, NumberEvent.Type.REASSIGNED],
            )
            for phone, at, kind in cursor.fetchall():
                histories.setdefault(phone, []).append((at, kind))
    answers = []
    for phone, since in checks:
        if phone not in covered:
            answers.append(None)
            continue
        end_of_day = timezone.make_aware(datetime.combine(since, dt_time.max))
        history = histories.get(phone, [])
        before = [kind for at, kind in history if at <= end_of_day]
        if before and before[-1] == NumberEvent.Type.CANCELLED:
            answers.append(True)  # nobody held the number on that date
        else:
            answers.append(any(at > end_of_day for at, _kind in history))
    return answers


FEED_SETTLE_SECONDS = 2  # events are served once their batch surely committed, so a cursor never skips one


def number_event_payloads(events) -> list[dict]:
    """Carriers' events (a queryset in the order wanted) as members get them, in the pull feed and in
    webhook notices alike:
    `{id, carrier, phone_number (E.164), type, occurred_at (ISO 8601, Beijing time)}`."""
    tz = timezone.get_current_timezone()
    return [
        {"id": pk, "carrier": carrier, "phone_number": "+86" + phone, "type": kind,
         "occurred_at": occurred_at.astimezone(tz).isoformat()}
        for pk, carrier, phone, kind, occurred_at in events.values_list(
            "pk", "carrier__legal_name", "phone_number", "type", "occurred_at")
    ]


def number_event_feed(*, after_id: int, limit: int, types: list[str] | None = None) -> list[dict]:
    """Carriers' events in id order after a cursor, for members that pull instead of taking webhooks."""
    events = NumberEvent.objects.filter(
        pk__gt=after_id, received_at__lte=timezone.now() - timedelta(seconds=FEED_SETTLE_SECONDS)
    )
    if types:
        events = events.filter(type__in=types)
    return number_event_payloads(events.order_by("pk")[:limit])


# --- Unbinding --------------------------------------------------------------------------------------------


def unbind_candidates(lookup) -> list:
    """The lookup's rows whose app found accounts likely to be the previous holder's, with the app."""
    from registry.models import Organisation

    return list(
        lookup.queries.filter(accounts_previous__gt=0, app__organisation__status=Organisation.Status.ACTIVE)
        .select_related("app__integration")
        .order_by("app__name")
    )


def unbind_complaint_url(unbind_request) -> str | None:
    """A complaint is offered, pre-filled, once the platform refused or let the deadline pass."""
    from django.urls import reverse

    if unbind_request.state == unbind_request.State.REFUSED or unbind_request.is_overdue:
        return reverse("complaints:file") + "?unbind=" + str(unbind_request.public_id)
    return None


def unbind_view(unbind_request) -> dict:
    """What the holder sees of one unbind request (results page, tracking page, API alike)."""
    from portal.workdays import working_days_between

    r = unbind_request
    return {
        "id": str(r.public_id),
        "app": r.app.name,
        "state": r.state,
        "state_label": str(r.State(r.state).label),
        "accounts": r.accounts_count,
        "created_at": timezone.localtime(r.created_at).isoformat(),
        "deadline_at": timezone.localtime(r.deadline_at).isoformat(),
        "working_days_left": max(0, working_days_between(timezone.now(), r.deadline_at)) if r.is_open else None,
        "overdue": r.is_overdue,
        "answered_at": timezone.localtime(r.answered_at).isoformat() if r.answered_at else None,
        "refusal_reason": r.refusal_reason,
        "complaint_url": unbind_complaint_url(r),
    }


def unbind_requests_for_holder(*, phone_hashes: list[str], lookup_ids: list[str]):
    """A holder's unbind requests: those of the numbers they proved with a code, or of the lookups made
    in this browser session. A previous holder's lookups never match: purged lookups lose their
    phone hash after 30 days, and a number rests at least 90 days before it is re-assigned."""
    from django.db.models import Q

    from portal.models import UnbindRequest

    if not phone_hashes and not lookup_ids:
        return UnbindRequest.objects.none()
    condition = Q(lookup__phone_hash__in=[h for h in phone_hashes if h]) | Q(lookup_id__in=lookup_ids)
    return UnbindRequest.objects.filter(condition).select_related("app", "lookup").order_by("-created_at", "app__name")


# Staff and platform filters: the states, plus "open" (not answered) and "overdue" (open, past the deadline)
UNBIND_FILTERS = ("open", "overdue", "queued", "sent", "done", "refused", "all")


def unbind_request_list(*, user, state: str = "open"):
    """Unbind requests of the user's organisation (staff or a member's system), filtered by state;
    soonest deadline first while open."""
    from portal.models import UnbindRequest
    from registry.scoping import scope_for_user

    rows = scope_for_user(UnbindRequest.objects.select_related("app", "lookup"), user)
    if state == "open":
        rows = rows.filter(state__in=UnbindRequest.OPEN)
    elif state == "overdue":
        rows = rows.filter(state__in=UnbindRequest.OPEN, deadline_at__lt=timezone.now())
    elif state in UnbindRequest.State.values:
        rows = rows.filter(state=state)
    if state in ("open", "overdue", "queued", "sent"):
        return rows.order_by("deadline_at", "pk")
    return rows.order_by("-created_at", "-pk")


def unbind_statistics(*, since=None, until=None, requests=None, with_due: bool = False) -> dict:
    """Counts for statistics: requests, done, done within the deadline, refused, overdue. `since` / `until`
    bound the requests' creation time; pass `requests` (a filtered queryset) for one member's share.
    `with_due` adds `due`: the requests answered or past their deadline (what an on-time share is of)."""
    from django.db.models import Count, F, Q

    from portal.models import UnbindRequest

    rows = UnbindRequest.objects.all() if requests is None else requests
    if since:
        rows = rows.filter(created_at__gte=since)
    if until:
        rows = rows.filter(created_at__lt=until)
    now = timezone.now()
    counts = {
        "requests": Count("pk"),
        "done": Count("pk", filter=Q(state="done")),
        "done_on_time": Count("pk", filter=Q(state="done", answered_at__lte=F("deadline_at"))),
        "refused": Count("pk", filter=Q(state="refused")),
        "overdue": Count("pk", filter=Q(state__in=UnbindRequest.OPEN, deadline_at__lt=now)),
    }
    if with_due:
        counts["due"] = Count("pk", filter=Q(answered_at__isnull=False) | Q(deadline_at__lt=now))
    return rows.aggregate(**counts)


def unbind_filter_choices() -> list[tuple[str, str]]:
    from django.utils.translation import gettext as _

    from portal.models import UnbindRequest

    labels = {"open": _("open"), "overdue": _("overdue"), "all": _("all")} | {k: str(v) for k, v in UnbindRequest.State.choices}
    return [(value, labels[value]) for value in UNBIND_FILTERS]


def unbind_request_rows(*, user, state: str = "open", public_id=None, limit: int = 500) -> list:
    """Staff console rows: each request with `working_days_left` (negative: working days overdue)."""
    from portal.workdays import working_days_between

    rows = unbind_request_list(user=user, state=state)
    if public_id is not None:
        rows = rows.filter(public_id=public_id)
    now = timezone.now()
    result = list(rows[:limit])
    for r in result:
        r.working_days_left = working_days_between(now, r.deadline_at) if r.is_open else None
    return result


def notice_events(*, after_id: int, up_to_id: int, types: list[str]) -> list[dict]:
    """The events one notice carries."""
    return number_event_payloads(NumberEvent.objects.filter(pk__gt=after_id, pk__lte=up_to_id, type__in=types).order_by("pk"))


# --- Recycled-number notices -----------------------------------------------------------------------------


def notice_totals(*, since=None, until=None, deliveries=None) -> dict:
    """What notices achieved, for the consoles and the statistics: notices delivered, the apps they were
    delivered to, numbers notified, numbers renewed (in notices the member confirmed by reporting back),
    bindings removed, and how many notices are still pending or parked. `since` / `until` bound the
    notices' creation time; pass `deliveries` (a scoped queryset) for one member's share."""
    from django.db.models import Count, Q, Sum

    from portal.models import NoticeDelivery

    State = NoticeDelivery.State
    rows = NoticeDelivery.objects.all() if deliveries is None else deliveries
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    totals = rows.aggregate(
        delivered=Count("pk", filter=Q(state=State.DELIVERED)),
        apps_notified=Count("subscription__app", filter=Q(state=State.DELIVERED), distinct=True),
        pending=Count("pk", filter=Q(state=State.PENDING)),
        parked=Count("pk", filter=Q(state=State.PARKED)),
        numbers_notified=Sum("numbers", filter=Q(state=State.DELIVERED)),
        numbers_renewed=Sum("numbers", filter=Q(reported_at__isnull=False)),
        bindings_removed=Sum("bindings_removed"),
    )
    return {key: value or 0 for key, value in totals.items()}


def notice_deliveries_for_user(*, user, app=None, state: str = "", limit: int = 200):
    from portal.models import NoticeDelivery
    from registry.scoping import scope_for_user

    rows = scope_for_user(NoticeDelivery.objects.select_related("subscription__app"), user)
    if app is not None:
        rows = rows.filter(subscription__app=app)
    if state:
        rows = rows.filter(state=state)
    return rows.order_by("-created_at")[:limit]


def number_second_hand(*, phone_number: str) -> dict:
    """What a holder may learn of their number's past: whether it was recycled, the months it was
    cancelled and re-assigned (month precision: the previous holder's dates are theirs), and how many
    member apps were told and have confirmed (reported back)."""
    from django.db.models import Q

    from portal.models import NoticeDelivery, NumberEvent

    now = timezone.now()
    events = NumberEvent.objects.filter(phone_number=phone_number, occurred_at__lte=now)
    reassigned = events.filter(type=NumberEvent.Type.REASSIGNED).order_by("-occurred_at").first()
    cancelled_events = events.filter(type=NumberEvent.Type.CANCELLED)
    if reassigned is not None:
        cancelled_events = cancelled_events.filter(occurred_at__lte=reassigned.occurred_at)
    cancelled = cancelled_events.order_by("-occurred_at").first()
    told = [e for e in (reassigned, cancelled) if e is not None]
    which = Q(pk__in=[])
    for event in told:
        which |= Q(after_event_id__lt=event.pk, up_to_event_id__gte=event.pk, event_types__contains=event.type)
    notices = NoticeDelivery.objects.filter(which, state=NoticeDelivery.State.DELIVERED)
    month = lambda event: timezone.localtime(event.occurred_at).date().replace(day=1) if event else None  # noqa: E731
    return {
        "covered": carrier_for_number(phone_number) is not None or bool(told),
        "recycled": reassigned is not None,
        "cancelled_month": month(cancelled),
        "reassigned_month": month(reassigned),
        "apps_notified": notices.values("subscription__app").distinct().count(),
        "apps_confirmed": notices.filter(reported_at__isnull=False).values("subscription__app").distinct().count(),
    }


def number_event_upload_list(*, user):
    """The CSV uploads a staff user may see: their carrier's, or every carrier's for administrators."""
    from portal.models import NumberEventUpload
    from registry.scoping import scope_for_user

    return scope_for_user(NumberEventUpload.objects.select_related("carrier", "uploaded_by"), user).order_by("-created_at", "-pk")


def number_event_upload_progress(upload) -> dict:
    """What the upload page shows and polls."""
    return {
        "state": upload.state,
        "state_label": str(upload.get_state_display()),
        "done": upload.is_done,
        "percent": upload.percent,
        "rows_read": upload.rows_read,
        "rows_accepted": upload.rows_accepted,
        "rows_duplicate": upload.rows_duplicate,
        "rows_rejected": upload.rows_rejected,
        "freeze_breaches": upload.freeze_breaches,
        "error": upload.error,
    }


def number_event_upload_rejected_rows(*, upload):
    """The rejected rows of an upload in line order, streamed (a file may have many)."""
    return upload.rejections.order_by("line").values_list("line", "code", "detail", "row").iterator(chunk_size=5000)
