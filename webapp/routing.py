from __future__ import annotations

from django.urls import path

from webapp.experiments.consumers import ExperimentConsumer, ExperimentListConsumer
from webapp.sweeps.consumers import SweepConsumer

websocket_urlpatterns = [
    path("ws/experiments/", ExperimentListConsumer.as_asgi()),
    path("ws/experiments/<int:pk>/", ExperimentConsumer.as_asgi()),
    path("ws/sweeps/<int:pk>/", SweepConsumer.as_asgi()),
]
