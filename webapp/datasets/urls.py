from __future__ import annotations

from django.urls import path

from webapp.datasets import views

urlpatterns = [
    path("", views.dataset_list, name="dataset_list"),
    path("<int:pk>/", views.dataset_detail, name="dataset_detail"),
]
