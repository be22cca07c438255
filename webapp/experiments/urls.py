from __future__ import annotations

from django.urls import path

from webapp.experiments import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("experiments/new/", views.experiment_create, name="experiment_create"),
    path("experiments/<int:pk>/", views.experiment_detail, name="experiment_detail"),
]
