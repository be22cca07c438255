"""Every error under /api/ is JSON: `{"errors": {field: [messages]}}` for bad input (the field named),
`{"error": message}` for the rest (401/403/404/405/409/413/415, 500). DRF's views come through
`exception_handler`; what never reaches a DRF view (an unknown /api/ URL, a crash) through the
`handler404`/`handler500`/... functions that webapp/urls.py installs, which keep HTML for the pages."""

from __future__ import annotations

import logging

from django.http import JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

log = logging.getLogger(__name__)
API_PREFIX = "/api/"


def exception_handler(exc: Exception, context: dict) -> Response:
    response = drf_exception_handler(exc, context)
    if response is None:  # not an API exception: a bug, logged, answered as JSON rather than a page
        log.exception("API error in %s", context.get("view"), exc_info=exc)
        return Response({"error": "Internal server error"}, status=500)
    if isinstance(exc, exceptions.ValidationError):
        detail = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        response.data = {"errors": detail}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"error": response.data["detail"]}
    return response


def _json_or(page, status: int, message: str):
    def handler(request, exception=None):
        if request.path.startswith(API_PREFIX):
            return JsonResponse({"error": message}, status=status)
        return page(request, exception) if exception is not None else page(request)

    return handler


handler400 = _json_or(defaults.bad_request, 400, "Bad request")
handler403 = _json_or(defaults.permission_denied, 403, "You do not have permission to perform this action.")
handler404 = _json_or(defaults.page_not_found, 404, "Not found.")
handler500 = _json_or(defaults.server_error, 500, "Internal server error")
