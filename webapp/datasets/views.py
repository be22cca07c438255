from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from webapp.datasets import notices, presentation
from webapp.datasets.access import dataset_for, dataset_or_rejection, datasets_for
from webapp.datasets.forms import UploadForm
from webapp.datasets.validation import DatasetRejected, size_text
from webapp.teams.access import can_write, teams_of


def upload_too_large(request) -> bool:
    """A request body beyond the archive cap (plus room for the form's other fields)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > settings.DATASET_MAX_BYTES + 2**20


def _show_rejections(request) -> None:
    for notice in notices.pop_for(request.user):
        messages.error(request, f"The upload of {notice['name']} was rejected: {notice['message']}")


@login_required
def dataset_list(request):
    _show_rejections(request)
    datasets = list(datasets_for(request.user).order_by("team__name", "name", "-version"))
    return render(
        request,
        "datasets/list.html",
        {
            "rows": presentation.latest_with_versions(datasets),
            "can_upload": teams_of(request.user, write=True).exists(),
        },
    )


@login_required
def dataset_detail(request, pk: int):
    dataset, notice = dataset_or_rejection(request.user, pk)
    if notice is not None:
        return render(request, "datasets/rejected.html", {"notice": notice})
    return render(
        request,
        "datasets/detail.html",
        {
            **presentation.detail_context(dataset),
            "can_write": can_write(request.user, dataset.team_id),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def dataset_upload(request):
    if not teams_of(request.user, write=True).exists():
        raise PermissionDenied("Viewers cannot upload datasets")
    initial = {"team": request.GET.get("team", ""), "name": request.GET.get("name", "")}  # after a rejection
    base_id = request.GET.get("from", "")
    if base_id.isdigit():  # "upload a new version" of a dataset the user may change
        base = dataset_for(request.user, int(base_id), write=True)
        initial = {
            "team": base.team_id,
            "name": base.name,
            "description": base.description,
            "split_seed": base.split_seed,
            "val_fraction": base.val_fraction,
            "test_fraction": base.test_fraction,
        }
    if request.method == "POST" and upload_too_large(request):
        # Refused before the multipart body is parsed into yet another temporary file.
        messages.error(request, f"The upload is larger than the limit of {size_text(settings.DATASET_MAX_BYTES)}.")
        return render(
            request, "datasets/upload.html", {"form": UploadForm(user=request.user, initial=initial)}, status=413
        )
    form = UploadForm(request.POST or None, request.FILES or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            dataset = form.save()
        except DatasetRejected as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{dataset} is uploaded; it is being checked now.")
            if request.headers.get("x-requested-with") == "XMLHttpRequest":  # the page's upload with a progress bar
                return JsonResponse({"redirect": dataset.get_absolute_url()}, status=201)
            return redirect(dataset)
    return render(request, "datasets/upload.html", {"form": form})


@login_required
def dataset_sample(request, pk: int, class_index: int, number: int):
    dataset = dataset_for(request.user, pk)
    return presentation.sample_response(dataset, class_index, number)


@login_required
def dataset_augment(request, pk: int):
    dataset = dataset_for(request.user, pk)
    return render(request, "datasets/augment.html", presentation.augment_context(dataset))
