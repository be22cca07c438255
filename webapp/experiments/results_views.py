"""Pages for a run's results: downloads of its model (the files come from `exports`)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from webapp.experiments import compare, exports, samples
from webapp.experiments.access import experiment_for
from webapp.experiments.api_results import export_response
from webapp.experiments.exports import ExportUnavailable
from webapp.experiments.models import Experiment


def results_context(experiment: Experiment) -> dict:
    """What the results panel shows (the page renders it; `experiment_results` renders it again at the end)."""
    return {"experiment": experiment, "downloads": exports.available(experiment)}


def compare_context(user, experiment: Experiment) -> dict:
    """The experiment page's "compare with…" choices."""
    return {"compare_candidates": compare.candidates(user, experiment), "compare_max": compare.MAX_COMPARED}


@login_required
@require_GET
def experiment_results(request, pk: int):
    """The results panel alone: the open page fetches it when its websocket says the run has finished."""
    experiment = experiment_for(request.user, pk)
    return render(request, "experiments/results_panel.html", results_context(experiment))


@login_required
@require_GET
def experiment_download(request, pk: int, name: str):
    experiment = experiment_for(request.user, pk)
    try:
        return export_response(experiment, name)
    except ExportUnavailable as exc:
        raise Http404(str(exc)) from exc


@login_required
@require_GET
def experiment_confusion_images(request, pk: int):
    """?label=&predicted= : that cell's test images, the most confident first (JSON for the page)."""
    experiment = experiment_for(request.user, pk)
    label, predicted = request.GET.get("label"), request.GET.get("predicted")
    if not label or not predicted:
        return JsonResponse({"error": "give both label and predicted (class names)"}, status=400)
    return JsonResponse(samples.gallery(experiment, label, predicted))


@login_required
@require_GET
def experiment_test_image(request, pk: int, index: int):
    return samples.image_response(experiment_for(request.user, pk), index)


@login_required
@require_GET
def experiment_compare(request):
    """/experiments/compare/?ids=1,2,3: 2 to 10 of the user's experiments side by side (a shareable URL)."""
    form = compare.CompareForm(request.GET)
    if not form.is_valid():
        return render(request, "experiments/compare.html", {"form": form}, status=400)
    ids = form.cleaned_data["ids"]
    canonical = ",".join(map(str, ids))
    if request.GET.get("ids") != canonical:  # checkboxes send ids=1&ids=2: one short URL to share
        return redirect(f"{reverse('experiment_compare')}?ids={canonical}")
    data = compare.comparison(request.user, ids)
    if data is None:
        raise Http404("No such experiment")
    page_data = {"rows": data["rows"], "metrics": data["metrics"]}
    return render(request, "experiments/compare.html", {"form": form, **data, "page_data": page_data})
