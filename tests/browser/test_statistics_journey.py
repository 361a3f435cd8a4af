"""A regulator signs in with TOTP, narrows the dashboard to one province and period, sees the charts
change, and downloads the cases as CSV; a screenshot of the dashboard is kept (var/test-artifacts)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from complaints.models import Complaint
from complaints.statistics.services import statistics_refresh
from registry.models import StaffUser
from tests.browser.conftest import save_screenshot, sign_in
from tests.registry.factories import MemberAppFactory, OrganisationFactory, StaffUserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_regulator_filters_the_dashboard_and_downloads_the_cases(live_server, page, tmp_path):
    apps = [
        MemberAppFactory(organisation=OrganisationFactory(legal_name=name)) for name in ("示例聊天科技", "示例支付科技")
    ]
    now = timezone.now()
    for n in range(40):
        Complaint.objects.create(
            reference=f"TS-BROWSER-{n:03d}",
            phone_hash="x",
            app=apps[n % 2],
            organisation=apps[n % 2].organisation,
            category=Complaint.Category.values[n % 3],
            province="44" if n % 4 else "11",
            received_at=now - timedelta(days=3 + n * 7),
            answered_at=now - timedelta(days=1 + n * 7),
            timely=n % 5 != 0,
            state=Complaint.State.ANSWERED,
        )
    statistics_refresh(full=True)
    user = StaffUserFactory(role=StaffUser.Role.REGULATOR, email="regulator@miit.example.cn")

    sign_in(page, live_server, user)
    page.wait_for_url("**/staff/")
    page.click("a[href='/staff/statistics/']")
    page.wait_for_url("**/staff/statistics/")

    trend_before = page.get_attribute("#trend svg.chart", "data-total")
    assert trend_before == "40"
    assert page.locator("#provinces svg.chart g.bar").count() == 2
    save_screenshot(page, "statistics-dashboard")

    # Beijing only, the last three months: the charts redraw with fewer cases, and the URL can be shared.
    start = (timezone.localdate() - timedelta(days=90)).isoformat()
    page.select_option("select[name=province]", "11")
    page.fill("input[name=start]", start)
    page.click("#statistics-filters button[type=submit]")
    page.wait_for_url("**province=11**")
    assert f"start={start}" in page.url
    expected = Complaint.objects.filter(province="11", received_at__date__gte=start).count()
    assert page.get_attribute("#trend svg.chart", "data-total") == str(expected)
    assert page.locator("#provinces svg.chart g.bar").count() == 1
    save_screenshot(page, "statistics-dashboard-beijing")

    with page.expect_download() as download:
        page.click("#cases-csv")
    path = tmp_path / "cases.csv"
    download.value.save_as(path)
    lines = path.read_text(encoding="utf-8-sig").strip().splitlines()
    assert lines[0].startswith("Complaint ID") and len(lines) == 1 + expected
    assert all("TS-BROWSER" in line for line in lines[1:])

    # The same page on a phone: nothing wider than the screen.
    page.set_viewport_size({"width": 375, "height": 740})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
