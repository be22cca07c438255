from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from webapp.datasets import notices, pages
from webapp.datasets.access import dataset_for, dataset_or_rejection, datasets_for
from webapp.datasets.forms import UploadForm, upload_initial, upload_too_large, upload_too_large_message
from webapp.datasets.rejection import DatasetRejected
from webapp.teams.access import can_write, writable_teams


@login_required
def dataset_list(request):
    notices.show_pending(request)
    datasets = datasets_for(request.user).latest_versions().order_by("team__name", "name")
    return render(
        request, "datasets/list.html", {"datasets": datasets, "can_upload": writable_teams(request.user).exists()}
    )


@login_required
def dataset_detail(request, pk: int):
    dataset, notice = dataset_or_rejection(request.user, pk)
    if notice is not None:
        return render(
            request, "datasets/rejected.html", {"notice": notice, "notice_status": notices.status_dict(notice)}
        )
    context = {**pages.detail_context(dataset), "can_write": can_write(request.user, dataset.team_id)}
    return render(request, "datasets/detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def dataset_upload(request):
    if not writable_teams(request.user).exists():
        raise PermissionDenied("Viewers cannot upload datasets")
    initial = upload_initial(request.user, request.GET)
    if request.method == "POST" and upload_too_large(request):
        messages.error(request, upload_too_large_message())
        return _upload_page(request, UploadForm(user=request.user, initial=initial), status=413)
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
    return _upload_page(request, form)


def _upload_page(request, form: UploadForm, status: int = 200):
    """The page's script sends the archive in chunks (webapp/datasets/chunked.py) through the API."""
    chunked = {"uploads_url": reverse("api_chunked_uploads"), "chunk_bytes": settings.UPLOAD_CHUNK_BYTES}
    return render(request, "datasets/upload.html", {"form": form, "chunked": chunked}, status=status)


@login_required
def dataset_sample(request, pk: int, class_index: int, number: int):
    return pages.sample_response(dataset_for(request.user, pk), class_index, number)


@login_required
def dataset_archive(request, pk: int):
    return pages.archive_response(dataset_for(request.user, pk))


@login_required
def dataset_augment(request, pk: int):
    return render(request, "datasets/augment.html", pages.augment_context(dataset_for(request.user, pk)))
