from django.shortcuts import render


def home(request):
    return render(request, "portal/home.html")


def before_giving_up(request):
    """The checklist for holders about to cancel a number: the seven kinds of account to unbind."""
    return render(request, "portal/before_giving_up.html")
