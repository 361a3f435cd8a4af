from django.shortcuts import render


def index(request):
    """Where complaints will be filed; for now it says what is coming and where to turn meanwhile."""
    return render(request, "complaints/index.html")


def file(request):
    """Placeholder for filing a complaint (the complaints issue replaces it); it keeps the unbind
    request it was opened from, so the link from an overdue unbind request already works."""
    return render(request, "complaints/file.html", {"unbind": request.GET.get("unbind", "")[:36]})
