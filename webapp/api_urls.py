from __future__ import annotations

from django.urls import include, path

from webapp.experiments import api as experiments_api
from webapp.experiments import api_results

urlpatterns = [
    path("experiments/", experiments_api.experiment_list, name="api_experiment_list"),
    path("experiments/resolve/", experiments_api.resolve_config, name="api_resolve_config"),
    path("experiments/<int:pk>/", experiments_api.experiment_detail, name="api_experiment_detail"),
    path("experiments/<int:pk>/metrics/", experiments_api.experiment_metrics, name="api_experiment_metrics"),
    path("experiments/<int:pk>/cancel/", experiments_api.experiment_cancel, name="api_experiment_cancel"),
    path("experiments/<int:pk>/resume/", experiments_api.experiment_resume, name="api_experiment_resume"),
    path("experiments/<int:pk>/extend/", experiments_api.experiment_extend, name="api_experiment_extend"),
    path("experiments/<int:pk>/predict/", api_results.experiment_predict, name="api_experiment_predict"),
    path("experiments/<int:pk>/exports/", api_results.experiment_exports, name="api_experiment_exports"),
    path("experiments/<int:pk>/exports/<str:name>/", api_results.experiment_export, name="api_experiment_export"),
    path("datasets/", include("webapp.datasets.api_urls")),
]
