from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from training.config import TrainConfig
from webapp.datasets.access import datasets_for
from webapp.experiments.access import experiment_for, experiments_for
from webapp.experiments.forms import GROUP_TITLES, ExperimentForm
from webapp.experiments.models import ACTIVE_STATUSES, Experiment, Queue
from webapp.experiments.tasks import enqueue
from webapp.teams.access import teams_of

QUEUE_FOR_DEVICE = {"cuda": Queue.GPU, "cpu": Queue.CPU}


def queue_for(config: TrainConfig) -> str:
    return QUEUE_FOR_DEVICE.get(config.device, settings.TRAINYARD_AUTO_QUEUE)


@login_required
def dashboard(request):
    experiments = experiments_for(request.user)
    return render(request, "experiments/dashboard.html", {
        "active": experiments.filter(status__in=ACTIVE_STATUSES),
        "finished": experiments.exclude(status__in=ACTIVE_STATUSES)[:100],
        "datasets": datasets_for(request.user),
        "can_create": teams_of(request.user, write=True).exists(),
    })


@login_required
@require_http_methods(["GET", "POST"])
def experiment_create(request):
    form = ExperimentForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        dataset = form.cleaned_data["dataset"]
        with transaction.atomic():
            experiment = Experiment.objects.create(
                team=dataset.team, owner=request.user, dataset=dataset, name=form.cleaned_data["name"],
                description=form.cleaned_data["description"], config=form.config.to_dict(),
                queue=queue_for(form.config),
            )
            enqueue(experiment)
        return redirect(experiment)
    return render(request, "experiments/create.html", {"form": form})


@login_required
def experiment_detail(request, pk: int):
    experiment = experiment_for(request.user, pk)
    infos = {i["name"]: i for i in TrainConfig.fields_info()}
    config_groups = [
        (title, [(infos[k]["label"], v) for k, v in experiment.config.items() if k in infos and infos[k]["group"] == g])
        for g, title in GROUP_TITLES.items()
    ]
    return render(request, "experiments/detail.html", {
        "experiment": experiment, "config_groups": config_groups,
        "live_info": {"id": experiment.pk, "epochs": experiment.epochs},
    })
