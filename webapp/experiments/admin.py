from __future__ import annotations

from django.contrib import admin

from webapp.experiments.models import EpochMetric, Experiment, Tag


class EpochMetricInline(admin.TabularInline):
    model = EpochMetric
    extra = 0
    can_delete = False
    readonly_fields = EpochMetric.FIELDS

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "team", "owner", "dataset", "status", "queue", "gpu_class", "created_at"]
    search_fields = ["name", "description", "owner__username"]
    readonly_fields = ["created_at", "started_at", "finished_at", "worker", "test_metrics"]
    list_filter = ["status", "queue", "gpu_class", "team", "pinned"]
    filter_horizontal = ["tags"]
    inlines = [EpochMetricInline]


@admin.register(EpochMetric)
class EpochMetricAdmin(admin.ModelAdmin):
    list_display = ["experiment", "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"]
    list_filter = ["experiment__team"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "team"]
    list_filter = ["team"]
    search_fields = ["name"]
