from __future__ import annotations

from django.apps import AppConfig


class SweepsConfig(AppConfig):
    name = "webapp.sweeps"
    label = "sweeps"

    def ready(self) -> None:
        from webapp.sweeps import hooks  # noqa: F401 (connects the experiment signals)
