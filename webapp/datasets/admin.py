from __future__ import annotations

from django.contrib import admin

from webapp.datasets.models import Dataset


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "source", "status", "num_images", "created_at"]
    list_filter = ["status", "source", "team"]
    search_fields = ["name", "description"]
    readonly_fields = ["classes", "num_images", "created_at", "error"]
