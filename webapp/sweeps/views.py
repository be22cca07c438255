"""The sweep pages: the list, the form, the live page, and stop / resume / add trials / widen the space."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_http_methods, require_POST

from training import TrainConfig
from training.presets import PRESETS
from training.search import Budget
from training.search.records import TrialState
from webapp.experiments import states
from webapp.sweeps import driver
from webapp.sweeps.access import sweep_for, sweeps_for
from webapp.sweeps.estimate import estimate
from webapp.sweeps.forms import AddTrialsForm, SweepForm, WidenPageForm
from webapp.sweeps.models import SweepStatus
from webapp.teams.access import can_write, writable_teams


@login_required
def sweep_list(request):
    return render(
        request,
        "sweeps/list.html",
        {"sweeps": sweeps_for(request.user)[:200], "can_create": writable_teams(request.user).exists()},
    )


@login_required
@require_http_methods(["GET", "POST"])
def sweep_create(request):
    asked = [name for name in request.GET.getlist("preset") if name in PRESETS]
    form = SweepForm(request.POST or None, user=request.user, presets=asked or None)
    if request.method == "POST" and form.is_valid():
        return redirect(driver.start(form.new_sweep(request.user)))
    context = {"form": form, "presets_catalog": form.presets_catalog(), "config_options": config_options()}
    return render(request, "sweeps/create.html", context)


def config_options() -> list[dict]:
    """What the space builder offers: each config option with its type, bounds and choices."""
    return [
        {k: info[k] for k in ("name", "label", "min", "max", "choices", "default")} | {"type": info["type"].__name__}
        for info in TrainConfig.fields_info()
    ]


@login_required
def sweep_detail(request, pk: int):
    return detail_page(request, sweep_for(request.user, pk))


def detail_page(request, sweep, widen_form: WidenPageForm | None = None, status: int = 200):
    page_data = {
        "sweep": sweep.summary_dict(),
        "states": states.for_pages(),
        "trial_states": {t.name: t.value for t in TrialState},
        "data_url": reverse("api_sweep_detail", args=[sweep.pk]),
    }
    context = {
        "sweep": sweep,
        "can_write": can_write(request.user, sweep.team_id),
        "space_lines": sweep.search_space.describe(),
        "budget_used": sweep.budget_used(),
        "space_history": [entry | {"when": parse_datetime(entry["at"])} for entry in sweep.space_history],
        "page_data": page_data,
        "add_form": AddTrialsForm(),
        "widen_form": widen_form or WidenPageForm(sweep=sweep),
    }
    return render(request, "sweeps/detail.html", context, status=status)


@login_required
@require_POST
def sweep_stop(request, pk: int):
    sweep = sweep_for(request.user, pk, write=True)
    if sweep.status == SweepStatus.RUNNING:
        driver.stop(sweep)
        messages.success(request, "Stopped: queued trials were dropped, running ones stop at their next batch.")
    else:
        messages.error(request, f"Nothing to stop: the sweep is {sweep.get_status_display().lower()}.")
    return redirect(sweep)


@login_required
@require_POST
def sweep_resume(request, pk: int):
    sweep = sweep_for(request.user, pk, write=True)
    if driver.resume(sweep):
        messages.success(request, "Resumed: the trials the stop cancelled go on from their checkpoints.")
    else:
        messages.error(request, "Only a stopped sweep can be resumed.")
    return redirect(sweep)


@login_required
@require_POST
def sweep_add_trials(request, pk: int):
    sweep = sweep_for(request.user, pk, write=True)
    form = AddTrialsForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        driver.add_trials(sweep, data["trials"] or 0, data.get("max_epochs"), data.get("max_hours"))
        messages.success(request, f"Budget raised; used so far: {sweep.budget_used()['text']}.")
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect(sweep)


@login_required
@require_POST
def sweep_widen(request, pk: int):
    """Widen the space (each parameter's values or range, from the page's fields); the form again, with
    its errors on the fields to blame, when the change would narrow it or leave nothing to run."""
    sweep = sweep_for(request.user, pk, write=True)
    form = WidenPageForm(request.POST, sweep=sweep)
    if not form.apply(sweep, by=request.user.get_username()):
        messages.error(request, "The space was not changed: see the errors below.")
        return detail_page(request, sweep, form, status=400)
    change = "; ".join(sweep.space_history[-1]["changes"])
    messages.success(request, f"Widened ({change}); the sweep goes on with up to {sweep.max_trials} trials.")
    return redirect(sweep)


@login_required
@require_POST
def sweep_estimate(request):
    """The cost of the sweep the form describes, or its errors by field (the form asks as the user edits)."""
    data = request.POST.copy()
    data["name"] = data.get("name") or "estimate"
    form = SweepForm(data, user=request.user)
    if not form.is_valid():
        errors = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
        return JsonResponse({"errors": errors}, status=400)
    cleaned = form.cleaned_data
    budget = Budget(cleaned["max_trials"], cleaned.get("max_epochs"), cleaned.get("max_hours"))
    return JsonResponse(
        estimate(form.search_space, cleaned["method"], budget, cleaned["pruner"], form.config, cleaned["dataset"])
    )
