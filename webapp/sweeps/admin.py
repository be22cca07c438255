from __future__ import annotations

from django.contrib import admin

from webapp.sweeps.models import Sweep, Trial


class TrialInline(admin.TabularInline):
    model = Trial
    fields = ("number", "params", "experiment")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Sweep)
class SweepAdmin(admin.ModelAdmin):
    list_display = ("name", "team", "dataset", "method", "objective", "pruner", "status", "max_trials", "created_at")
    list_filter = ("status", "method", "pruner", "team")
    search_fields = ("name",)
    readonly_fields = ("created_at", "finished_at", "space_history")
    inlines = [TrialInline]
