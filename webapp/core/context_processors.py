from __future__ import annotations

from django.conf import settings


def trainyard(request):
    return {"TRAINYARD_DEMO": settings.TRAINYARD_DEMO}
