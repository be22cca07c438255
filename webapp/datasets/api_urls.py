from __future__ import annotations

from django.urls import path

from webapp.datasets import api

urlpatterns = [
    path("", api.dataset_list, name="api_dataset_list"),
    path("<int:pk>/", api.dataset_detail, name="api_dataset_detail"),
    path("<int:pk>/versions/", api.dataset_versions, name="api_dataset_versions"),
    path("<int:pk>/status/", api.dataset_status, name="api_dataset_status"),
    path("<int:pk>/augment-preview/", api.augment_preview, name="api_dataset_augment_preview"),
]
