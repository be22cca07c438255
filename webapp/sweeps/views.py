"""The sweep pages: the list, the form, the live page, and stop / resume / add trials."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from training import TrainConfig
from training.presets import PRESETS
from training.search import Budget
from training.search.records import TrialState
from webapp.experiments import states
from webapp.sweeps import driver
from webapp.sweeps.access import sweep_for, sweeps_for
from webapp.sweeps.estimate import estimate
from webapp.sweeps.forms import AddTrialsForm, SweepForm
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
    sweep = sweep_for(request.user, pk)
    page_data = {
        "sweep": sweep.summary_dict(),
        "states": states.for_pages(),
        "trial_states": {t.name: t.value for t in TrialState},
        "data_url": reverse("api_sweep_detail", args=[sweep.pk]),
    }
    return render(
        request,
        "sweeps/detail.html",
        {
            "sweep": sweep,
            "can_write": can_write(request.user, sweep.team_id),
            "space_lines": sweep.search_space.describe(),
            "page_data": page_data,
            "add_form": AddTrialsForm(),
        },
    )


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
        driver.add_trials(sweep, form.cleaned_data["trials"] or 0, form.cleaned_data.get("max_epochs"))
        messages.success(request, f"The budget is now {sweep.max_trials} trials.")
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
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
    budget = Budget(cleaned["max_trials"], cleaned.get("max_epochs"))
    return JsonResponse(
        estimate(form.search_space, cleaned["method"], budget, cleaned["pruner"], form.config, cleaned["dataset"])
    )
