from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from registry import selectors
from registry.endpoint_check import integration_check_endpoint


def directory(request):
    return render(request, "registry/directory.html", {"categories": selectors.member_app_directory()})


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
    points = integration_check_endpoint(integration=integration)
    return render(request, "registry/staff/app_detail.html", {"app": app, "check_points": points})
