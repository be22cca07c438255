"""No request body from someone without a session: unauthenticated requests can never fill the disk.

Two layers. In a deployment nginx asks `session_check` before it lets any POST/PUT/PATCH/DELETE through
(deploy/nginx), so their bodies never reach the web server. In every mode `RequireSessionForBodies`
answers a request whose body is larger than a small form before Django reads, spools or parses any of it.
"""

from __future__ import annotations

import json

from channels.auth import get_user
from channels.db import database_sync_to_async
from django.conf import settings
from django.http.cookie import parse_cookie
from django.utils.module_loading import import_string
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view
from rest_framework.response import Response

# Bodies up to this size need no session (the sign-in form, small API calls); larger ones do.
ANON_BODY_MAX = 64 * 1024


@extend_schema(exclude=True)  # nginx's internal question, not part of the API
@api_view(["GET"])
def session_check(request):
    """204 for a signed-in user (session, or whatever authentication the API accepts); the API's default
    permission (IsAuthenticated) refuses everyone else. nginx's auth_request asks it."""
    return Response(status=204)


# Chunks of a chunked upload (webapp/datasets/chunked.py) go to these paths, and are capped by their own size.
CHUNK_PATHS = "/api/datasets/uploads/"


def body_cap(path: str = "") -> int:
    from webapp.datasets.forms import FORM_FIELDS_ROOM

    if path.startswith(CHUNK_PATHS):
        return settings.UPLOAD_CHUNK_MAX
    return settings.DATASET_MAX_BYTES + FORM_FIELDS_ROOM


def too_large_message(path: str) -> str:
    from webapp.datasets.forms import upload_too_large_message
    from webapp.datasets.rejection import size_text

    if path.startswith(CHUNK_PATHS):
        return f"A chunk may have at most {size_text(settings.UPLOAD_CHUNK_MAX)}."
    return upload_too_large_message()


@database_sync_to_async
def _valid_token(key: str) -> bool:
    from rest_framework.authtoken.models import Token

    return Token.objects.filter(key=key, user__is_active=True).exists()


async def signed_in(headers: dict[bytes, bytes]) -> bool:
    """A signed-in session cookie, or a valid API token (`Authorization: Token <key>`, for scripts)."""
    scheme, _, key = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    if scheme.lower() == "token" and key.strip():
        return await _valid_token(key.strip())
    cookies = parse_cookie(headers.get(b"cookie", b"").decode("latin-1"))
    key = cookies.get(settings.SESSION_COOKIE_NAME)
    if not key:
        return False
    session = import_string(f"{settings.SESSION_ENGINE}.SessionStore")(key)
    user = await get_user({"session": session})  # checks the session's auth hash, as Django does
    return user.is_authenticated


class RequireSessionForBodies:
    """ASGI middleware for HTTP: a body over ANON_BODY_MAX bytes (or of unknown length) needs a signed-in
    session, and no body may exceed the upload cap (a chunk of a chunked upload: the chunk cap). Decided from
    the headers alone."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            refusal = await self.refusal(dict(scope["headers"]), scope.get("path", ""))
            if refusal is not None:
                await respond(send, *refusal)
                return
        await self.app(scope, receive, send)

    async def refusal(self, headers: dict[bytes, bytes], path: str = "") -> tuple[int, str] | None:
        try:
            length = int(headers[b"content-length"]) if b"content-length" in headers else None
        except ValueError:
            return 400, "Content-Length is not a number."
        if length is None and b"transfer-encoding" not in headers:
            return None  # no body
        if length is not None and length <= ANON_BODY_MAX:
            return None
        if length is not None and length > body_cap(path):
            return 413, too_large_message(path)
        if not await signed_in(headers):
            return 403, "Sign in first: a request body this large needs a signed-in session."
        return None


async def respond(send, status: int, message: str) -> None:
    body = json.dumps({"detail": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + [(b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
