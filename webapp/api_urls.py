from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from webapp.experiments import api as experiments_api
from webapp.experiments import api_results
from webapp.teams.api import TeamList

Experiments = experiments_api.ExperimentViewSet


def experiments(name: str, **methods: str):
    return Experiments.as_view(methods, detail=name != "list")


urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api_schema"), name="api_docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api_schema"), name="api_redoc"),
    path("teams/", TeamList.as_view(), name="api_team_list"),
    path("experiments/", experiments("list", get="list", post="create"), name="api_experiment_list"),
    path("experiments/resolve/", experiments_api.resolve_config, name="api_resolve_config"),
    path(
        "experiments/<int:pk>/",
        experiments("detail", get="retrieve", patch="partial_update"),
        name="api_experiment_detail",
    ),
    path("experiments/<int:pk>/metrics/", experiments("detail", get="metrics"), name="api_experiment_metrics"),
    path("experiments/<int:pk>/cancel/", experiments("detail", post="cancel"), name="api_experiment_cancel"),
    path("experiments/<int:pk>/resume/", experiments("detail", post="resume"), name="api_experiment_resume"),
    path("experiments/<int:pk>/extend/", experiments("detail", post="extend"), name="api_experiment_extend"),
    path("experiments/<int:pk>/predict/", api_results.experiment_predict, name="api_experiment_predict"),
    path("experiments/<int:pk>/exports/", api_results.experiment_exports, name="api_experiment_exports"),
    path("experiments/<int:pk>/exports/<str:name>/", api_results.experiment_export, name="api_experiment_export"),
    path("workers/", experiments_api.workers_list, name="api_workers"),
    path("datasets/", include("webapp.datasets.api_urls")),
    path("sweeps/", include("webapp.sweeps.api")),
]
