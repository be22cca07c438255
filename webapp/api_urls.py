from __future__ import annotations

from django.urls import path

from webapp.experiments import api as experiments_api

urlpatterns = [
    path("experiments/", experiments_api.experiment_list, name="api_experiment_list"),
    path("experiments/<int:pk>/", experiments_api.experiment_detail, name="api_experiment_detail"),
    path("experiments/<int:pk>/metrics/", experiments_api.experiment_metrics, name="api_experiment_metrics"),
]
