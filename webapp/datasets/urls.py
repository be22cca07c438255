from __future__ import annotations

from django.urls import path

from webapp.datasets import views

urlpatterns = [
    path("", views.dataset_list, name="dataset_list"),
    path("upload/", views.dataset_upload, name="dataset_upload"),
    path("<int:pk>/", views.dataset_detail, name="dataset_detail"),
    path("<int:pk>/images.zip", views.dataset_archive, name="dataset_archive"),
    path("<int:pk>/augment/", views.dataset_augment, name="dataset_augment"),
    path("<int:pk>/samples/<int:class_index>/<int:number>.png", views.dataset_sample, name="dataset_sample"),
]
