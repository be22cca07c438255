from __future__ import annotations

from django.apps import AppConfig


class ExperimentsConfig(AppConfig):
    name = "webapp.experiments"
    label = "experiments"

    def ready(self) -> None:
        from webapp.experiments import access_signals  # noqa: F401  (connects the access-change receivers)
        from webapp.experiments.workers import register_inspect_commands

        register_inspect_commands()
