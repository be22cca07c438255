from __future__ import annotations

from django.urls import path

from webapp.datasets import api, api_chunked

urlpatterns = [
    path("", api.dataset_list, name="api_dataset_list"),
    path("<int:pk>/", api.dataset_detail, name="api_dataset_detail"),
    path("<int:pk>/versions/", api.dataset_versions, name="api_dataset_versions"),
    path("<int:pk>/status/", api.dataset_status, name="api_dataset_status"),
    path("uploads/", api_chunked.upload_list, name="api_chunked_uploads"),
    path("uploads/<uuid:pk>/", api_chunked.upload_detail, name="api_chunked_upload"),
    path("uploads/<uuid:pk>/finish/", api_chunked.upload_finish, name="api_chunked_upload_finish"),
    path("<int:pk>/augment-preview/", api.augment_preview, name="api_dataset_augment_preview"),
]
