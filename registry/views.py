from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from registry import selectors, services
from registry.models import StaffUser

STAFF_HOME_TEMPLATES = {
    StaffUser.Role.ADMINISTRATOR: "registry/staff/home_administrator.html",
    StaffUser.Role.PLATFORM_STAFF: "registry/staff/home_member.html",
    StaffUser.Role.CARRIER_STAFF: "registry/staff/home_member.html",
    StaffUser.Role.REGULATOR: "registry/staff/home_regulator.html",
}


def directory(request):
    return render(request, "registry/directory.html", {"categories": selectors.member_app_directory()})


@login_required
def staff_home(request):
    user = request.user
    context = {}
    if user.is_member_staff:
        from portal.selectors import unbind_request_list

        # the open requests, and those of them past their deadline, in one query
        counts = unbind_request_list(user=user, state="open").aggregate(
            unbind_open=Count("pk"), unbind_overdue=Count("pk", filter=Q(deadline_at__lt=timezone.now()))
        )
        context = {"apps": selectors.member_app_list_for_user(user=user), **counts}
    return render(request, STAFF_HOME_TEMPLATES[user.role], context)


@login_required
def staff_app_detail(request, pk: int):
    app = get_object_or_404(selectors.member_app_list_for_user(user=request.user), pk=pk)
    return render(request, "registry/staff/app_detail.html", {"app": app})


@login_required
@require_POST
def staff_app_check_endpoint(request, pk: int):
    app = get_object_or_404(selectors.member_app_list_for_user(user=request.user), pk=pk)
    integration = getattr(app, "integration", None)
    if integration is None:
        raise Http404
    points = services.integration_check_endpoint(integration=integration)
    return render(request, "registry/staff/app_detail.html", {"app": app, "check_points": points})


@login_required
def staff_app_queries(request, pk: int):
    app = get_object_or_404(selectors.member_app_list_for_user(user=request.user), pk=pk)
    queries = selectors.lookup_query_log(user=request.user, app=app)
    return render(request, "registry/staff/app_queries.html", {"app": app, "queries": queries})
