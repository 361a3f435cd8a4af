"""The counter console for carrier staff (phone width; TOTP like every staff page, registry/middleware.py):
enter the subscriber's number, read its history, start its renewal, follow it. Other users get 404."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.carrier import selectors, services
from portal.carrier.forms import CounterNumberForm, CounterRenewalForm
from portal.carrier.models import CarrierAction


def _carrier_of(request):
    user = request.user
    if user.role != user.Role.CARRIER_STAFF or user.organisation is None:
        raise Http404
    return user.organisation


def _actor(request) -> services.Actor:
    return services.Actor(carrier=_carrier_of(request), via=CarrierAction.Via.CONSOLE, staff_user=request.user)


def _attestation(form) -> services.Attestation:
    return services.Attestation(CarrierAction.Channel.COUNTER, form.cleaned_data["reference"], timezone.now())


@login_required
def counter(request):
    """Enter a number: its history, and the renewal button."""
    carrier = _carrier_of(request)
    form = CounterNumberForm(request.POST or None, initial={"reference": f"staff-{request.user.pk}"})
    context = {"form": form, "recent": selectors.actions_for_staff(user=request.user)}
    if request.method == "POST" and form.is_valid():
        try:
            action, history = services.carrier_history_read(
                actor=_actor(request), phone_number=form.cleaned_data["phone_number"], attestation=_attestation(form)
            )
        except services.NotCarriersNumber:
            form.add_error("phone_number", _("This number is not in your carrier's segments."))
        except services.Refusal as refusal:
            form.add_error(None, refusal.message)
        else:
            # the next subscriber's form: the number read is shown masked only
            renewal_form = CounterRenewalForm(initial={"history": action.public_id})
            if history["holder_since"]:  # reported by the carrier's events: nothing to ask
                renewal_form.fields["holder_since"].widget = renewal_form.fields["holder_since"].hidden_widget()
            context |= {
                "history": history,
                "action": action,
                "renewal_form": renewal_form,
                "form": CounterNumberForm(initial={"reference": form.cleaned_data["reference"]}),
            }
    status = 400 if form.errors else 200
    return render(request, "portal/carrier/counter.html", context | {"carrier": carrier}, status=status)


@login_required
@require_POST
def renewal_start(request):
    """Renew the number whose history this carrier's staff just read (within the attestation's age)."""
    carrier = _carrier_of(request)
    form = CounterRenewalForm(request.POST)
    history = form.is_valid() and selectors.action_for_carrier(
        carrier=carrier, public_id=form.cleaned_data["history"], kind=CarrierAction.Kind.HISTORY
    )
    if not history or not history.phone_number:
        raise Http404
    attestation = services.Attestation(history.channel, history.reference, history.verified_at)
    try:
        services.attestation_parse(
            {
                "channel": attestation.channel,
                "reference": attestation.reference,
                "verified_at": attestation.verified_at.isoformat(),
            }
        )  # still fresh
        since = form.cleaned_data["holder_since"]
        action, _created = services.carrier_renewal_start(
            actor=_actor(request),
            phone_number=history.phone_number,
            attestation=attestation,
            holder_since=since.isoformat() if since else None,
        )
    except (services.Refusal, ValidationError) as error:
        message = error.message if isinstance(error, services.Refusal) else " ".join(error.messages)
        context = {
            "form": CounterNumberForm(initial={"reference": history.reference}),
            "refusal": message,
            "recent": selectors.actions_for_staff(user=request.user),
            "carrier": carrier,
        }
        return render(request, "portal/carrier/counter.html", context, status=400)
    return redirect("carrier_renewal", public_id=action.public_id)


def _renewal(request, public_id) -> CarrierAction:
    action = selectors.action_for_carrier(
        carrier=_carrier_of(request), public_id=public_id, kind=CarrierAction.Kind.RENEWAL
    )
    if action is None:
        raise Http404
    return action


@login_required
def renewal(request, public_id):
    action = _renewal(request, public_id)
    return render(
        request,
        "portal/carrier/renewal.html",
        {"action": action, "view": selectors.renewal_view(action), "apps": selectors.renewal_apps_view(action)},
    )


@login_required
def renewal_progress(request, public_id):
    """What the renewal page polls (static/js/carrier-renewal.js)."""
    return JsonResponse(selectors.renewal_view(_renewal(request, public_id)))
