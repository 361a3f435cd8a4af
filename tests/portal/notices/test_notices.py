"""Notices without a worker: planning, the subscription API, reports and totals, staff scoping, the
CloudEvent a member verifies, and the citizens' "Is my number second-hand?" page."""

import json
from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.notices import delivery as notices
from portal.notices import services
from portal.notices.models import NoticeDelivery, NoticeSubscription
from portal.notices.selectors import notice_totals
from portal.recycling import selectors
from portal.recycling.models import NumberEvent
from registry import protocol
from registry.models import StaffUser
from tests.portal.lookup.helpers import latest_code
from tests.portal.notices.helpers import carrier_key, member_app, signed_post
from tests.registry.factories import (
    OrganisationFactory,
    StaffUserFactory,
    platform_staff,
)

pytestmark = pytest.mark.django_db
SUBSCRIPTION_URL = "/api/v1/platform/notice-subscription"
ALL_TYPES = ["cancelled", "reassigned", "ported_out", "ported_in"]


def store_events(carrier, count, *, kind="reassigned", start=0, phone=None, occurred_at=None):
    """Events as the carrier API keeps them, received long enough ago to be planned."""
    at = occurred_at or timezone.now() - timedelta(days=10)
    NumberEvent.objects.bulk_create(
        [
            NumberEvent(
                carrier=carrier,
                event_id=f"{kind}{start + i}",
                phone_number=phone or f"138{start + i:08d}",
                type=kind,
                occurred_at=at,
                received_at=timezone.now() - timedelta(seconds=30),
            )
            for i in range(count)
        ]
    )


def subscribed(types=ALL_TYPES, organisation=None):
    app, key, secret = member_app(organisation)
    subscription, webhook_secret = services.notice_subscription_save(
        app=app, webhook_url="https://member.example/hook", event_types=types
    )
    return subscription, key, secret, webhook_secret


@pytest.fixture
def carrier():
    key, _secret = carrier_key()
    return key.integration.app.organisation


def test_events_are_cut_into_notices_of_at_most_1000_per_app_and_planned_once(
    carrier, django_capture_on_commit_callbacks
):
    every, *_ = subscribed()
    reassigned_only, *_ = subscribed(["reassigned"])
    store_events(carrier, 2100)
    store_events(carrier, 300, kind="cancelled")
    with django_capture_on_commit_callbacks() as sent:
        notices.plan()
    assert sent  # dispatched after commit
    for subscription, expected in ((every, 2400), (reassigned_only, 2100)):
        rows = list(NoticeDelivery.objects.filter(subscription=subscription))
        assert sum(r.numbers for r in rows) == expected and max(r.numbers for r in rows) <= protocol.NOTICE_MAX_NUMBERS
    notices.plan()  # nothing new: nothing planned twice
    assert sum(NoticeDelivery.objects.filter(subscription=every).values_list("numbers", flat=True)) == 2400


def test_a_new_subscription_hears_of_events_from_now_on(carrier):
    store_events(carrier, 5)
    subscription, *_ = subscribed()
    notices.plan()
    assert not NoticeDelivery.objects.filter(subscription=subscription).exists()


def test_the_notice_is_a_cloudevent_the_member_verifies_with_its_secret(carrier):
    subscription, _key, _secret, webhook_secret = subscribed()
    store_events(carrier, 3)
    notices.plan()
    delivery = NoticeDelivery.objects.get()
    (send,) = notices._claim([str(delivery.pk)])
    assert protocol.verify(send.headers, send.body, keys=[webhook_secret], remember=False) == str(
        delivery.pk
    )  # webhook-id: the notice id
    event = protocol.parse_notice(send.body)
    assert (
        event["id"] == str(delivery.pk)
        and event["specversion"] == "1.0"
        and event["datacontenttype"] == "application/json"
    )
    assert send.headers["Content-Type"] == "application/cloudevents+json"
    assert [e["phone_number"] for e in event["data"]["events"]] == [
        "+8613800000000",
        "+8613800000001",
        "+8613800000002",
    ]
    assert event["reportpath"] == reverse("api_platform_notice_report", args=[delivery.pk])
    with pytest.raises(protocol.SignatureError):
        protocol.verify(send.headers, send.body, keys=[protocol.new_secret()], remember=False)
    # the same events as the pull feed serves
    feed = selectors.number_event_feed(after_id=0, limit=10)
    assert event["data"]["events"] == json.loads(json.dumps(feed))


def test_subscribing_through_the_api_shows_the_secret_once(client):
    app, key, secret = member_app()
    body = {"webhook_url": "https://member.example/hook", "event_types": ["reassigned"]}
    created = signed_post(client, SUBSCRIPTION_URL, body, key, secret, method="put")
    assert created.status_code == 201 and created.json()["secret"]
    assert NoticeSubscription.objects.get(app=app).secret() == created.json()["secret"]
    assert created.json()["secret"] not in NoticeSubscription.objects.get(app=app).secret_encrypted
    changed = signed_post(client, SUBSCRIPTION_URL, body | {"event_types": ALL_TYPES}, key, secret, method="put")
    assert (
        changed.status_code == 200
        and "secret" not in changed.json()
        and sorted(changed.json()["event_types"]) == sorted(ALL_TYPES)
    )
    rotated = signed_post(client, SUBSCRIPTION_URL, body | {"new_secret": True}, key, secret, method="put").json()
    assert rotated["secret"] != created.json()["secret"] and rotated["key_id"] != created.json()["key_id"]
    bad = signed_post(
        client, SUBSCRIPTION_URL, {"webhook_url": "not a url", "event_types": ["reassigned"]}, key, secret, method="put"
    )
    assert bad.status_code == 400
    assert client.put(SUBSCRIPTION_URL, json.dumps(body), content_type="application/json").status_code in (401, 403)


def test_members_report_back_and_the_portal_keeps_the_totals(client, carrier):
    subscription, key, secret, _ = subscribed()
    store_events(carrier, 40)
    notices.plan()
    delivery = NoticeDelivery.objects.get()
    NoticeDelivery.objects.filter(pk=delivery.pk).update(state="delivered", delivered_at=timezone.now())
    url = reverse("api_platform_notice_report", args=[delivery.pk])
    assert signed_post(client, url, {"bindings_removed": -1}, key, secret).status_code == 400
    answer = signed_post(client, url, {"bindings_removed": 17}, key, secret)
    assert answer.status_code == 200 and answer.json()["bindings_removed"] == 17
    totals = notice_totals(since=timezone.now() - timedelta(hours=1), until=timezone.now() + timedelta(hours=1))
    assert (totals["delivered"], totals["numbers_notified"], totals["numbers_renewed"], totals["bindings_removed"]) == (
        1,
        40,
        40,
        17,
    )
    assert notice_totals(since=timezone.now() + timedelta(hours=1))["bindings_removed"] == 0
    # another member cannot report on it
    _other, other_key, other_secret = member_app()
    assert signed_post(client, url, {"bindings_removed": 1}, other_key, other_secret).status_code == 404

    client.force_login(StaffUserFactory(role=StaffUser.Role.ADMINISTRATOR))
    page = client.get(reverse("staff_notices")).content.decode()
    assert "17" in page and str(delivery.pk) in page


def test_staff_of_one_organisation_never_see_anothers_subscriptions_or_notices(client, carrier):
    theirs, *_ = subscribed()
    store_events(carrier, 2)
    notices.plan()
    delivery = NoticeDelivery.objects.get(subscription=theirs)
    NoticeDelivery.objects.filter(pk=delivery.pk).update(state="parked")
    client.force_login(platform_staff(OrganisationFactory()))
    assert client.get(reverse("staff_app_notices", args=[theirs.app.pk])).status_code == 404
    assert (
        client.post(
            reverse("staff_app_notices", args=[theirs.app.pk]),
            {"webhook_url": "https://x.example/", "event_types": ["reassigned"]},
        ).status_code
        == 404
    )
    assert client.get(reverse("staff_notice_detail", args=[delivery.pk])).status_code == 404
    assert client.post(reverse("staff_notice_resend", args=[delivery.pk])).status_code == 404
    assert str(delivery.pk) not in client.get(reverse("staff_notices")).content.decode()
    client.force_login(StaffUserFactory(role=StaffUser.Role.REGULATOR))
    assert client.get(reverse("staff_notice_detail", args=[delivery.pk])).status_code == 404

    client.force_login(platform_staff(theirs.app.organisation))
    assert client.get(reverse("staff_notice_detail", args=[delivery.pk])).status_code == 200


def test_staff_subscribe_in_the_console_and_see_the_secret_once(client):
    app, *_ = member_app()
    client.force_login(platform_staff(app.organisation))
    url = reverse("staff_app_notices", args=[app.pk])
    page = client.post(
        url, {"webhook_url": "https://member.example/hook", "event_types": ["reassigned", "cancelled"], "enabled": "on"}
    ).content.decode()
    subscription = NoticeSubscription.objects.get(app=app)
    assert subscription.secret() in page and subscription.types == ["cancelled", "reassigned"]
    assert subscription.secret() not in client.get(url).content.decode()
    bad = client.post(url, {"webhook_url": "ftp://nowhere", "event_types": []}).content.decode()
    assert 'value="ftp://nowhere"' in bad


def ask_second_hand_code(client, phone="138 0000 0007"):
    return client.post(reverse("second_hand_start"), {"phone_number": phone, "captcha_0": "x", "captcha_1": "passed"})


def test_a_holder_sees_the_months_and_how_many_apps_were_told_and_confirmed(client, carrier):
    told, *_ = subscribed()
    confirmed, *_ = subscribed(["reassigned"])
    subscribed(["ported_in"])  # never told of this number
    tz = timezone.get_current_timezone()
    store_events(carrier, 1, kind="cancelled", phone="13800000007", occurred_at=datetime(2025, 3, 14, 9, 30, tzinfo=tz))
    store_events(carrier, 1, kind="reassigned", phone="13800000007", occurred_at=datetime(2025, 8, 2, 16, 0, tzinfo=tz))
    notices.plan()
    NoticeDelivery.objects.update(state="delivered", delivered_at=timezone.now())
    NoticeDelivery.objects.filter(subscription=confirmed).update(bindings_removed=2, reported_at=timezone.now())

    page = ask_second_hand_code(client).content.decode()
    assert "138****0007" in page
    wrong = client.post(reverse("second_hand_verify"), {"phone_number": "13800000007", "code": "12345x"})
    assert wrong.status_code == 400
    answer = client.post(
        reverse("second_hand_verify"), {"phone_number": "13800000007", "code": latest_code()}, follow=True
    )
    page = answer.content.decode()
    assert "2025年3月" in page and "2025年8月" in page and "2025-03-14" not in page and "2025-08-02" not in page
    facts = page.split('class="facts"')[1].split("</dl>")[0]
    assert "<dd>2</dd>" in facts and "<dd>1</dd>" in facts  # two apps told, one confirmed
    assert "13800000007" not in page


def test_the_second_hand_page_refuses_bad_input_clearly_and_keeps_it(client):
    page = client.post(
        reverse("second_hand_start"), {"phone_number": "12345", "captcha_0": "x", "captcha_1": "passed"}
    ).content.decode()
    assert "11 位数字" in page and 'value="12345"' in page
    assert reverse("second_hand_start") in client.get(reverse("home")).content.decode()
    assert client.get(reverse("second_hand_result")).status_code == 302  # nothing verified yet


def test_an_unrecycled_number_says_so_in_english_too(client, carrier):
    client.post(reverse("set_language"), {"language": "en"})
    ask_second_hand_code(client, "138 0000 0099")
    page = client.post(
        reverse("second_hand_verify"), {"phone_number": "13800000099", "code": latest_code()}, follow=True
    ).content.decode()
    assert "No: no carrier has reported that this number changed hands." in page


def test_the_demo_subscribes_its_notice_apps_to_the_simulator():
    from portal.devtools.demo import APPS, load_demo

    load_demo()
    load_demo()
    subscriptions = NoticeSubscription.objects.select_related("app")
    assert subscriptions.count() == sum(1 for *_rest, notices in APPS if notices)
    assert all(
        s.webhook_url.startswith("http://127.0.0.1:8900/app") and s.webhook_url.endswith(protocol.NUMBER_NOTICES_PATH)
        for s in subscriptions
    )
