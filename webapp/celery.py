"""The one Celery app, configured from Django settings (CELERY_* names)."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import celeryd_after_setup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("trainyard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@celeryd_after_setup.connect
def _serve_gpu_class(sender, instance, **kwargs) -> None:
    """A worker started with TRAINYARD_GPU_CLASS=<class> also consumes `gpu-<class>` (webapp.core.queues)."""
    from webapp.core.queues import serve_gpu_class
    from webapp.experiments import gpu_classes

    gpu_classes.SERVED = serve_gpu_class(instance.app)
