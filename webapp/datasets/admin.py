"""Datasets in the Django admin: add from any source, list with status/counts/version, re-validate,
thumbnails per class and the health report on the change page. A dataset that experiments use keeps
its data and split read-only, and deleting it shows Django's protected-objects page."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import Http404
from django.template.loader import render_to_string
from django.urls import path
from django.utils.html import format_html, format_html_join

from webapp.datasets import intake, notices, pages
from webapp.datasets.forms import AdminAddForm, split_fields
from webapp.datasets.models import ChunkedUpload, Dataset, Rejection
from webapp.datasets.rejection import size_text

SPLIT_SETTINGS = ("split_seed", "val_fraction", "test_fraction")
# The change page's "Data" section: where the images came from and what they are (all read-only).
DATA_DETAILS = (
    *("source", "origin_text", "root", "archive", "content_hash", "size", "num_images", "classes", "mean", "std"),
    *("created_by", "created_at", "processed_at"),
)
# Read-only on the change page: what processing computed, and the sections drawn from it.
COMPUTED = (
    *("version", "status", "stage", "progress", "error", "fixed_split"),
    *DATA_DETAILS,
    *("usage", "split_table", "health_report", "thumbnails"),
)


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    class Media:
        # The thumbnails, health report and status colours (the admin does not load trainyard.css).
        css = {"all": ["css/admin_datasets.css"]}

    list_display = ["name", "version", "team", "status_badge", "class_count", "num_images", "health", "created_at"]
    list_display_links = ["name", "version"]
    list_filter = ["status", "source", "team"]
    search_fields = ["name", "description", "content_hash"]
    ordering = ["team__name", "name", "-version"]
    actions = ["revalidate"]
    add_fieldsets = [
        (None, {"fields": ["team", "name", "description", "add_source"]}),
        ("Zip archive", {"fields": ["zip_archive"]}),
        ("Folder on the server", {"fields": ["folder"]}),
        ("torchvision dataset", {"fields": ["torchvision", "torchvision_folder", "download"]}),
        ("Split (when the data does not fix it)", {"fields": list(SPLIT_SETTINGS)}),
    ]
    change_fieldsets = [
        (None, {"fields": ["team", "name", "version", "description", "status", "stage", "progress", "error", "usage"]}),
        ("Thumbnails per class", {"fields": ["thumbnails"]}),
        ("Health report", {"fields": ["health_report"]}),
        ("Split", {"fields": [*SPLIT_SETTINGS, "fixed_split", "split_table"]}),
        ("Data", {"fields": list(DATA_DETAILS)}),
    ]

    # --- forms -----------------------------------------------------------------------------------
    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else self.change_fieldsets

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = AdminAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in SPLIT_SETTINGS:  # the same bounds and help as the upload page
            return split_fields()[db_field.name]
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        locked = ("team", "name")
        if obj.is_used() or obj.is_processing:
            locked += SPLIT_SETTINGS
        return locked + COMPUTED

    def save_model(self, request, obj: Dataset, form, change: bool) -> None:
        if not change:
            form.start(obj, request.user)
            messages.info(request, f"{obj} is being checked by the dataset worker; its status shows here.")
            return
        resplit = any(name in form.changed_data for name in SPLIT_SETTINGS)
        super().save_model(request, obj, form, change)
        if resplit and obj.was_ready:
            intake.queue_processing(obj)
            messages.info(request, f"{obj} is being processed again for its new split settings.")

    # --- list ------------------------------------------------------------------------------------
    def changelist_view(self, request, extra_context=None):
        notices.show_pending(request)
        return super().changelist_view(request, extra_context)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Dataset) -> str:
        text = obj.get_status_display()
        if obj.is_processing and obj.stage:
            text = f"{text}: {obj.stage} ({obj.progress}%)"
        # Colours come from css/admin_datasets.css (no inline style: only Plotly needs those).
        return format_html('<span class="ty-status ty-{}" title="{}">{}</span>', obj.status, obj.error, text)

    @admin.display(description="Classes")
    def class_count(self, obj: Dataset) -> int:
        return len(obj.classes)

    @admin.display(description="Health")
    def health(self, obj: Dataset) -> str:
        flags = obj.health_flags()
        if not flags:
            return "healthy" if obj.processed_at else "–"
        return format_html_join(
            ", ",
            '<span class="ty-flag ty-{}" title="{}">{}</span>',
            ((c["level"], c["title"], c["tag"] or c["title"]) for c in flags),
        )

    @admin.action(description="Re-validate selected datasets (check every image again)")
    def revalidate(self, request, queryset) -> None:
        queued = [d for d in queryset if intake.revalidate(d)]
        skipped = queryset.count() - len(queued)
        if queued:
            self.message_user(
                request,
                f"Queued {len(queued)} dataset{'s' if len(queued) > 1 else ''} for "
                f"re-validation: {', '.join(str(d) for d in queued)}.",
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(request, f"Skipped {skipped} being processed right now.", messages.WARNING)

    # --- change page -----------------------------------------------------------------------------
    @admin.display(description="Used by")
    def usage(self, obj: Dataset) -> str:
        used = obj.experiments.count()
        if not used:
            return "No experiment yet: its split settings can still change (the data is processed again)."
        return (
            f"{used} experiment{'s' if used > 1 else ''}. Its data and split are locked, and it cannot be "
            f"deleted; upload changed data under the name {obj.name!r} to make version {obj.version + 1}."
        )

    @admin.display(description="Origin")
    def origin_text(self, obj: Dataset) -> str:
        return ", ".join(f"{k}: {v}" for k, v in obj.origin.items() if v not in (None, "")) or "–"

    @admin.display(description="Size of the images")
    def size(self, obj: Dataset) -> str:
        return size_text(obj.size_bytes)

    @admin.display(description="Images per split")
    def split_table(self, obj: Dataset) -> str:
        return render_to_string("datasets/includes/split_table.html", pages.detail_context(obj))

    @admin.display(description="Report")
    def health_report(self, obj: Dataset) -> str:
        return render_to_string("datasets/includes/health.html", pages.detail_context(obj))

    @admin.display(description="Samples")
    def thumbnails(self, obj: Dataset) -> str:
        samples = pages.sample_urls(obj, "admin:datasets_dataset_sample")
        return render_to_string("datasets/includes/sample_grid.html", {"samples": samples, "thumb": 48})

    def get_urls(self):
        return [
            path(
                "<int:pk>/samples/<int:class_index>/<int:number>.png",
                self.admin_site.admin_view(self.sample_view),
                name="datasets_dataset_sample",
            ),
            *super().get_urls(),
        ]

    def sample_view(self, request, pk: int, class_index: int, number: int):
        dataset = self.get_object(request, str(pk))
        if dataset is None or not self.has_view_permission(request, dataset):
            raise Http404("No such dataset")
        return pages.sample_response(dataset, class_index, number)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        return {**initial, "download": True}

    def response_add(self, request, obj, post_url_continue=None):
        if "_addanother" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        # The list shows the progress; the change page of a dataset still processing has little to show.
        return self.response_post_save_add(request, obj)


@admin.register(Rejection)
class RejectionAdmin(admin.ModelAdmin):
    """Rejected uploads, with why: read-only (they are what is left of an upload)."""

    list_display = ("name", "version", "team", "user", "created_at", "message")
    list_filter = ("team",)
    search_fields = ("name", "message")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ChunkedUpload)
class ChunkedUploadAdmin(admin.ModelAdmin):
    """Unfinished chunked uploads: who is sending what, how far. Deleting one removes its bytes."""

    list_display = ("filename", "owner", "team", "progress", "updated_at", "expires_at")
    list_filter = ("team",)
    search_fields = ("filename", "owner__username")

    @admin.display(description="received")
    def progress(self, obj: ChunkedUpload) -> str:
        return f"{size_text(obj.received)} of {size_text(obj.size)}"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
