"""Platform staff on a phone find their notice webhook disabled, re-enable it, and replay a notice
(issue 14 §2); both pages pass axe."""

import pytest
from django.utils import timezone

from portal.notices import services
from portal.notices.models import NoticeDelivery, NoticeSubscription
from tests.browser.conftest import save_screenshot, sign_in
from tests.browser.test_accessibility import axe_violations
from tests.portal.outbound.test_outbound import no_stray_tasks  # noqa: F401
from tests.registry.factories import MemberAppFactory, OrganisationFactory, platform_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_platform_staff_re_enable_a_disabled_webhook_and_replay_a_notice_on_a_phone(
    live_server, phone_page, no_stray_tasks
):  # noqa: F811
    organisation = OrganisationFactory()
    app = MemberAppFactory(organisation=organisation, name="示例通知")
    subscription, _secret = services.notice_subscription_save(
        app=app, webhook_url="http://127.0.0.1:9/hook", event_types=["reassigned"]
    )
    NoticeSubscription.objects.filter(pk=subscription.pk).update(
        disabled_at=timezone.now(), disabled_reason="every notice failed since 2026-11-25 08:00 UTC; the last: HTTP 503"
    )
    notice = NoticeDelivery.objects.create(
        subscription=subscription,
        after_event_id=0,
        up_to_event_id=0,
        event_types="reassigned",
        numbers=3,
        state="parked",
        attempts=8,
        max_attempts=8,
        parked_at=timezone.now(),
    )
    page = phone_page
    sign_in(page, live_server, platform_staff(organisation), path=f"/staff/apps/{app.pk}/notices/")
    page.wait_for_url(f"**/staff/apps/{app.pk}/notices/")

    banner = page.locator(".msg.error", has_text="HTTP 503")
    assert banner.is_visible() and not axe_violations(page)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    save_screenshot(page, "notice-webhook-disabled-phone")
    banner.locator("button[type=submit]").click()
    page.wait_for_url(f"**/staff/apps/{app.pk}/notices/")
    assert NoticeSubscription.objects.get(pk=subscription.pk).disabled_at is None
    assert NoticeDelivery.objects.get(pk=notice.pk).state == "pending"  # of the last 7 days: sent again

    page.goto(f"{live_server.url}/staff/notices/{notice.pk}/")
    assert not axe_violations(page)
    page.locator(f"form[action='/staff/notices/{notice.pk}/replay'] button").click()
    page.wait_for_url(f"**/staff/notices/{notice.pk}/")
    assert page.locator(".msg.success").is_visible()
    assert NoticeDelivery.objects.get(pk=notice.pk).replay_due_at is not None
    save_screenshot(page, "notice-replay-phone")
