from __future__ import annotations

from django.urls import include, path

from webapp.experiments import api as experiments_api

urlpatterns = [
    path("experiments/", experiments_api.experiment_list, name="api_experiment_list"),
    path("experiments/resolve/", experiments_api.resolve_config, name="api_resolve_config"),
    path("experiments/<int:pk>/", experiments_api.experiment_detail, name="api_experiment_detail"),
    path("experiments/<int:pk>/metrics/", experiments_api.experiment_metrics, name="api_experiment_metrics"),
    path("experiments/<int:pk>/cancel/", experiments_api.experiment_cancel, name="api_experiment_cancel"),
    path("experiments/<int:pk>/resume/", experiments_api.experiment_resume, name="api_experiment_resume"),
    path("experiments/<int:pk>/extend/", experiments_api.experiment_extend, name="api_experiment_extend"),
    path("datasets/", include("webapp.datasets.api_urls")),
    path("sweeps/", include("webapp.sweeps.api")),
]
