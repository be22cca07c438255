from __future__ import annotations

from django.urls import path

from webapp.experiments import results_views, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("experiments/tables/", views.experiment_tables, name="experiment_tables"),
    path("experiments/compare/", results_views.experiment_compare, name="experiment_compare"),
    path("experiments/new/", views.experiment_create, name="experiment_create"),
    path("experiments/<int:pk>/", views.experiment_detail, name="experiment_detail"),
    path("experiments/<int:pk>/cancel/", views.experiment_cancel, name="experiment_cancel"),
    path("experiments/<int:pk>/resume/", views.experiment_resume, name="experiment_resume"),
    path("experiments/<int:pk>/extend/", views.experiment_extend, name="experiment_extend"),
    path("experiments/<int:pk>/notes/", views.experiment_notes, name="experiment_notes"),
    path("experiments/<int:pk>/download/<str:name>/", results_views.experiment_download, name="experiment_download"),
    path("experiments/<int:pk>/results/", results_views.experiment_results, name="experiment_results"),
    path(
        "experiments/<int:pk>/confusion/", results_views.experiment_confusion_images, name="experiment_confusion_images"
    ),
    path(
        "experiments/<int:pk>/test-images/<int:index>.png",
        results_views.experiment_test_image,
        name="experiment_test_image",
    ),
    path("workers/", views.workers, name="workers"),
]
