from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.shortcuts import render
from django.utils import timezone

from portal.unbinding.selectors import unbind_request_list
from registry import selectors
from registry.models import StaffUser

STAFF_HOME_TEMPLATES = {
    StaffUser.Role.ADMINISTRATOR: "registry/staff/home_administrator.html",
    StaffUser.Role.PLATFORM_STAFF: "registry/staff/home_member.html",
    StaffUser.Role.CARRIER_STAFF: "registry/staff/home_member.html",
    StaffUser.Role.REGULATOR: "registry/staff/home_regulator.html",
}


@login_required
def staff_home(request):
    user = request.user
    context = {}
    if user.is_member_staff:
        # the open requests, and those of them past their deadline, in one query
        counts = unbind_request_list(user=user, state="open").aggregate(
            unbind_open=Count("pk"), unbind_overdue=Count("pk", filter=Q(deadline_at__lt=timezone.now()))
        )
        context = {"apps": selectors.member_app_list_for_user(user=user), **counts}
    return render(request, STAFF_HOME_TEMPLATES[user.role], context)
