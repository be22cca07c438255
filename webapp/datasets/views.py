from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from webapp.datasets.access import dataset_for, datasets_for


@login_required
def dataset_list(request):
    return render(request, "datasets/list.html", {"datasets": datasets_for(request.user)})


@login_required
def dataset_detail(request, pk: int):
    dataset = dataset_for(request.user, pk)
    return render(request, "datasets/detail.html", {"dataset": dataset})
