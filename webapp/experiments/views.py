from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from training.config import TrainConfig
from training.presets import PRESETS
from webapp.datasets.access import datasets_for
from webapp.experiments import actions, live
from webapp.experiments.access import experiment_for, experiments_for
from webapp.experiments.forms import GROUP_TITLES, ExperimentForm, ExtendForm
from webapp.experiments.models import Experiment, Queue, Status
from webapp.experiments.tasks import enqueue
from webapp.experiments.workers import online_workers
from webapp.teams.access import can_write, teams_of

QUEUE_FOR_DEVICE = {"cuda": Queue.GPU, "cpu": Queue.CPU}


def queue_for(config: TrainConfig) -> str:
    return QUEUE_FOR_DEVICE.get(config.device, settings.TRAINYARD_AUTO_QUEUE)


def experiment_lists(user) -> dict:
    experiments = experiments_for(user)
    positions = Experiment.queue_positions()
    queued = list(experiments.filter(status=Status.QUEUED))
    for experiment in queued:
        experiment.position = positions.get(experiment.pk)
    queued.sort(key=lambda e: e.position or 0)
    return {
        "running": experiments.filter(status=Status.RUNNING),
        "queued": queued,
        "finished": experiments.exclude(status__in=[Status.QUEUED, Status.RUNNING])[:200],
    }


@login_required
def dashboard(request):
    return render(
        request,
        "experiments/dashboard.html",
        {
            **experiment_lists(request.user),
            "datasets": datasets_for(request.user),
            "can_create": teams_of(request.user, write=True).exists(),
        },
    )


@login_required
def experiment_tables(request):
    """The lists alone: the dashboard reloads them when its websocket says something changed."""
    return render(request, "experiments/tables.html", experiment_lists(request.user))


@login_required
@require_http_methods(["GET", "POST"])
def experiment_create(request):
    source = None
    if request.method == "GET" and request.GET.get("clone"):
        source = experiment_for(request.user, request.GET["clone"])
    asked = request.GET.getlist("preset")
    unknown = [name for name in asked if name not in PRESETS]
    if unknown:
        messages.error(request, f"Unknown preset ignored: {', '.join(unknown)}")
    form = ExperimentForm(
        request.POST or None, user=request.user, clone_of=source, presets=[name for name in asked if name in PRESETS]
    )
    if request.method == "POST" and form.is_valid():
        dataset = form.cleaned_data["dataset"]
        with transaction.atomic():
            experiment = Experiment.objects.create(
                team=dataset.team,
                owner=request.user,
                dataset=dataset,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                tags=form.cleaned_data["tags"],
                priority=form.cleaned_data["priority"],
                config=form.config.to_dict(),
                queue=queue_for(form.config),
                cloned_from=form.cleaned_data.get("cloned_from"),
                presets=form.chosen_presets(),
                init_from=form.cleaned_data.get("init_from"),
            )
            enqueue(experiment)
        return redirect(experiment)
    return render(
        request,
        "experiments/create.html",
        {
            "form": form,
            "clone_of": source,
            "presets_catalog": form.presets_catalog(),
        },
    )


@login_required
def experiment_detail(request, pk: int):
    experiment = experiment_for(request.user, pk)
    infos = {i["name"]: i for i in TrainConfig.fields_info()}
    config_groups = [
        (title, [(infos[k]["label"], v) for k, v in experiment.config.items() if k in infos and infos[k]["group"] == g])
        for g, title in GROUP_TITLES.items()
    ]
    return render(
        request,
        "experiments/detail.html",
        {
            "experiment": experiment,
            "config_groups": config_groups,
            "can_write": can_write(request.user, experiment.team_id),
            "log_lines": experiment.log_tail(),
            "live_info": {"id": experiment.pk, **live.status_payload(experiment)},
        },
    )


@login_required
@require_POST
def experiment_cancel(request, pk: int):
    experiment = experiment_for(request.user, pk, write=True)
    outcome = actions.cancel(experiment)
    if outcome == "cancelled":
        messages.success(request, "Cancelled: the experiment was still queued and will not start.")
    elif outcome == "stopping":
        messages.info(request, "Stopping at the next batch; the last epoch's checkpoint is kept.")
    else:
        messages.error(
            request, f"Nothing to cancel: the experiment has already {experiment.get_status_display().lower()}."
        )
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
def workers(request):
    found = online_workers()
    visible = {e.pk: e for e in experiments_for(request.user).filter(pk__in=[i for w in found for i in w["running"]])}
    for worker in found:
        worker["experiments"] = [visible.get(i) for i in worker["running"]]
    return render(request, "experiments/workers.html", {"workers": found})
