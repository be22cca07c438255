from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from training.config import TrainConfig
from training.presets import PRESETS
from webapp.datasets.access import datasets_for
from webapp.experiments import actions, states
from webapp.experiments.access import experiment_for
from webapp.experiments.forms import GROUP_TITLES, ExperimentForm, ExtendForm, NotesForm
from webapp.experiments.history import ExperimentFilter, list_rows, page_rows, page_size
from webapp.experiments.models import Experiment
from webapp.experiments.results_views import compare_context, results_context
from webapp.experiments.states import CancelOutcome, Status
from webapp.experiments.workers import workers_seen_by
from webapp.teams.access import can_write, writable_teams

# What the page says after a cancel request, by what it did.
CANCEL_MESSAGES = {
    CancelOutcome.CANCELLED: (messages.SUCCESS, "Cancelled: the experiment was still queued and will not start."),
    CancelOutcome.STOPPING: (messages.INFO, "Stopping at the next batch; the last epoch's checkpoint is kept."),
    CancelOutcome.FINISHED: (messages.ERROR, "Nothing to cancel: the experiment has already {status}."),
}


QUEUE_SHOWN = 20


def experiment_lists(request) -> dict:
    """Running and queued now, and the history: filtered, sorted and paginated as ?query says (the API's
    FilterSet and page size). A fixed number of queries whatever the number of rows."""
    rows = list_rows(request.user)
    positions = Experiment.queue_positions()
    # The next QUEUE_SHOWN of the user's queued runs (a long queue would make the page grow with it); the
    # rest are in the history, filtered by status.
    waiting = sorted(
        rows.filter(status=Status.QUEUED).values_list("pk", flat=True), key=lambda pk: positions.get(pk, 0)
    )
    queued = list(rows.filter(pk__in=waiting[:QUEUE_SHOWN])) if waiting else []
    for experiment in queued:
        experiment.position = positions.get(experiment.pk)
    queued.sort(key=lambda e: e.position or 0)
    history = ExperimentFilter(request.GET, queryset=rows, request=request)
    page = Paginator(history.qs.values_list("pk", flat=True), page_size(request.GET)).get_page(request.GET.get("page"))
    page.object_list = page_rows(history.qs, page.object_list)
    return {
        "running": list(rows.filter(status=Status.RUNNING)),
        "queued": queued,
        "queued_total": len(waiting),
        "history": history,
        "page": page,
        "sorted_by": request.GET.get("sort", ""),
    }


def config_groups(experiment: Experiment) -> list[tuple[str, list[tuple[str, object]]]]:
    """(group title, [(field label, value)]) of the stored config, for the page."""
    infos = {i["name"]: i for i in TrainConfig.fields_info()}
    return [
        (
            title,
            [
                (infos[k]["label"], json.dumps(v) if isinstance(v, list | dict) else v)
                for k, v in experiment.config.items()
                if k in infos and infos[k]["group"] == g
            ],
        )
        for g, title in GROUP_TITLES.items()
    ]


@login_required
def dashboard(request):
    return render(
        request,
        "experiments/dashboard.html",
        {
            **experiment_lists(request),
            "datasets": datasets_for(request.user),
            "can_create": writable_teams(request.user).exists(),
        },
    )


@login_required
def experiment_tables(request):
    """The lists alone: the dashboard reloads them when its websocket says something changed."""
    return render(request, "experiments/tables.html", experiment_lists(request))


@login_required
@require_http_methods(["GET", "POST"])
def experiment_create(request):
    source = experiment_for(request.user, request.GET["clone"]) if request.GET.get("clone") else None
    asked = request.GET.getlist("preset")
    unknown = [name for name in asked if name not in PRESETS]
    if unknown:
        messages.error(request, f"Unknown preset ignored: {', '.join(unknown)}")
    form = ExperimentForm(
        request.POST or None, user=request.user, clone_of=source, presets=[name for name in asked if name in PRESETS]
    )
    if request.method == "POST" and form.is_valid():
        return redirect(actions.create(form.new_experiment(request.user), tags=form.cleaned_data["tags"]))
    context = {"form": form, "clone_of": source, "presets_catalog": form.presets_catalog()}
    return render(request, "experiments/create.html", context)


@login_required
def experiment_detail(request, pk: int):
    experiment = experiment_for(request.user, pk)
    page_data = {
        "experiment": experiment.summary_dict(),
        "states": states.for_pages(),
        "metrics_url": reverse("api_experiment_metrics", args=[experiment.pk]),
        "results_url": reverse("experiment_results", args=[experiment.pk]),
    }
    return render(
        request,
        "experiments/detail.html",
        {
            "experiment": experiment,
            "config_groups": config_groups(experiment),
            "steps": experiment.optimizer_steps(),
            "can_write": can_write(request.user, experiment.team_id),
            "log_lines": experiment.log_tail(),
            "page_data": page_data,
            "notes_form": NotesForm(initial=NotesForm.initial_for(experiment)),
            **results_context(experiment),
            **compare_context(request.user, experiment),
        },
    )


@login_required
@require_POST
def experiment_cancel(request, pk: int):
    experiment = experiment_for(request.user, pk, write=True)
    level, text = CANCEL_MESSAGES[actions.cancel(experiment)]
    messages.add_message(request, level, text.format(status=experiment.get_status_display().lower()))
    return redirect(experiment)


@login_required
@require_POST
def experiment_resume(request, pk: int):
    experiment = experiment_for(request.user, pk, write=True)
    if actions.requeue(experiment):
        start = (
            f"from the checkpoint of epoch {experiment.checkpoint_epoch}"
            if experiment.checkpoint_epoch
            else "from the start (no checkpoint was saved)"
        )
        messages.success(request, f"Queued again; it continues {start}.")
    else:
        messages.error(request, "Only a cancelled or failed experiment can be resumed.")
    return redirect(experiment)


@login_required
@require_POST
def experiment_extend(request, pk: int):
    experiment = experiment_for(request.user, pk, write=True)
    form = ExtendForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Epochs to add: " + " ".join(form.errors["epochs"]))
    elif actions.requeue(experiment, extra_epochs=(extra := form.cleaned_data["epochs"])):
        messages.success(
            request,
            f"Queued to train {extra} more epoch{'s' if extra != 1 else ''}, "
            f"from epoch {experiment.checkpoint_epoch + 1} to {experiment.epochs}.",
        )
    else:
        messages.error(request, "Only a finished experiment with a checkpoint can train more epochs.")
    return redirect(experiment)


@login_required
@require_POST
def experiment_notes(request, pk: int):
    """Members change the notes, tags and pin of a run; viewers get a 403 (experiment_for)."""
    experiment = experiment_for(request.user, pk, write=True)
    form = NotesForm(request.POST)
    if form.is_valid():
        actions.annotate(experiment, **form.cleaned_data)
        messages.success(request, "Notes, tags and pin saved.")
    else:
        errors = "; ".join(f"{form.fields[name].label or name}: {' '.join(e)}" for name, e in form.errors.items())
        messages.error(request, f"Nothing was saved. {errors}")
    return redirect(experiment)


@login_required
def workers(request):
    return render(request, "experiments/workers.html", {"workers": workers_seen_by(request.user)})
