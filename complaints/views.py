from django.shortcuts import render


def index(request):
    """Where complaints will be filed; for now it says what is coming and where to turn meanwhile."""
    return render(request, "complaints/index.html")
