from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from portal.health import selectors


@never_cache
def healthz(request):
    report = selectors.health_report()
    down = [part for part in ("database", "broker", "worker") if report[part] != "ok"]
    report["status"] = "ok" if not down else "down: " + ", ".join(down)
    return JsonResponse(report, status=503 if down else 200)
