from __future__ import annotations

from django.urls import path

from webapp.experiments import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("experiments/tables/", views.experiment_tables, name="experiment_tables"),
    path("experiments/new/", views.experiment_create, name="experiment_create"),
    path("experiments/<int:pk>/", views.experiment_detail, name="experiment_detail"),
    path("experiments/<int:pk>/cancel/", views.experiment_cancel, name="experiment_cancel"),
    path("experiments/<int:pk>/resume/", views.experiment_resume, name="experiment_resume"),
    path("experiments/<int:pk>/extend/", views.experiment_extend, name="experiment_extend"),
    path("experiments/<int:pk>/notes/", views.experiment_notes, name="experiment_notes"),
    path("workers/", views.workers, name="workers"),
]
