"""Unauthenticated requests can never fill the disk: a large body without a session is refused from its
headers, by nginx in a deployment (deploy/nginx, tried here with the real nginx in front of a live
Daphne) and by the ASGI application itself in every mode."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from django.test import Client

from tests.browser import BrowserTestCase
from tests.conftest import PASSWORD
from tests.helpers import wait_until
from webapp.asgi import application
from webapp.core.bodies import ANON_BODY_MAX, RequireSessionForBodies
from webapp.datasets.models import Dataset

ROOT = Path(__file__).resolve().parent.parent
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
needs_nginx = pytest.mark.skipif(
    NGINX is None and os.environ.get("CI", "").lower() not in {"1", "true", "yes"},
    reason="nginx is not installed (apt-get install nginx-light); CI=true makes this a failure",
)


def http_scope(path: str, headers: dict[str, str], method: str = "POST") -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }


async def first_response(app, scope: dict) -> tuple[int, bytes]:
    """The answer to a request whose body never comes: a refusal must not wait for it."""
    comm = ApplicationCommunicator(app, scope)
    await comm.send_input({"type": "http.request", "body": b"x" * 1024, "more_body": True})
    start = await comm.receive_output(timeout=30)
    body = await comm.receive_output(timeout=30)
    await comm.send_input({"type": "http.disconnect"})
    await comm.wait(timeout=5)
    return start["status"], body["body"]


class Recorder:
    """The application behind the guard: records whether a request got through to it."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope, receive, send) -> None:
        self.calls += 1
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_large_body_without_a_session_is_refused_before_it_is_read(tmp_path):
    uploads = Path(settings.MEDIA_ROOT) / "datasets" / "uploads"
    before = set(uploads.glob("*")) if uploads.exists() else set()
    scope = http_scope("/datasets/upload/", {"content-length": str(2**30), "content-type": "multipart/form-data"})
    status, body = await first_response(application, scope)
    assert status == 403 and b"Sign in first" in body
    assert await Dataset.objects.acount() == 0
    assert (set(uploads.glob("*")) if uploads.exists() else set()) == before


@pytest.mark.asyncio
async def test_a_body_of_unknown_length_without_a_session_is_refused():
    inner = Recorder()
    status, _ = await first_response(
        RequireSessionForBodies(inner), http_scope("/api/datasets/", {"transfer-encoding": "chunked"})
    )
    assert status == 403 and inner.calls == 0


@pytest.mark.asyncio
async def test_a_forged_session_cookie_does_not_count(db):
    inner = Recorder()
    headers = {"content-length": str(2**20), "cookie": f"{settings.SESSION_COOKIE_NAME}=forged0123456789abcdef"}
    status, _ = await first_response(RequireSessionForBodies(inner), http_scope("/datasets/upload/", headers))
    assert status == 403 and inner.calls == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_signed_in_user_gets_through_up_to_the_upload_cap(owner, settings):
    from asgiref.sync import sync_to_async

    settings.DATASET_MAX_BYTES = 10 * 2**20
    cookie = await sync_to_async(session_cookie)(owner)
    inner = Recorder()
    guard = RequireSessionForBodies(inner)
    status, _ = await first_response(
        guard, http_scope("/datasets/upload/", {"content-length": "5000000", "cookie": cookie})
    )
    assert status == 204 and inner.calls == 1
    status, body = await first_response(
        guard, http_scope("/datasets/upload/", {"content-length": str(2**30), "cookie": cookie})
    )
    assert status == 413 and b"larger than the limit" in body and inner.calls == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_script_with_a_valid_api_token_gets_through_and_a_wrong_token_does_not(owner):
    from asgiref.sync import sync_to_async
    from rest_framework.authtoken.models import Token

    token = await sync_to_async(lambda: Token.objects.create(user=owner).key)()
    inner = Recorder()
    guard = RequireSessionForBodies(inner)
    large = {"content-length": "5000000"}
    status, _ = await first_response(guard, http_scope("/api/datasets/", {**large, "authorization": f"Token {token}"}))
    assert status == 204 and inner.calls == 1
    status, _ = await first_response(guard, http_scope("/api/datasets/", {**large, "authorization": "Token forged"}))
    assert status == 403 and inner.calls == 1


@pytest.mark.asyncio
async def test_small_forms_need_no_session():
    inner = Recorder()
    headers = {"content-length": str(ANON_BODY_MAX), "content-type": "application/x-www-form-urlencoded"}
    status, _ = await first_response(RequireSessionForBodies(inner), http_scope("/login/", headers))
    assert status == 204 and inner.calls == 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nginx_config(tmp: Path, upstream: str, port: int) -> Path:
    """deploy/nginx's templates, filled in as the nginx image would, served over plain HTTP on `port`."""
    values = {"TRAINYARD_UPSTREAM": upstream, "TRAINYARD_BODY_MAX": "1m", "TRAINYARD_STATIC_ROOT": str(ROOT / "static")}

    def fill(text: str) -> str:
        return re.sub(r"\$\{(TRAINYARD_\w+)\}", lambda m: values[m.group(1)], text)

    templates = ROOT / "deploy" / "nginx"
    (tmp / "locations.inc").write_text(fill((templates / "trainyard-locations.inc.template").read_text()))
    http_part = fill((templates / "trainyard.conf.template").read_text()).split("server {")[0]  # upstream, map
    temp_paths = "".join(
        f"{kind}_temp_path {tmp}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    config = tmp / "nginx.conf"
    config.write_text(
        f"daemon off;\nworker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\nevents {{}}\n"
        f"http {{\naccess_log off;\n{temp_paths}{http_part}\n"
        f"server {{\nlisten 127.0.0.1:{port};\ninclude {tmp}/locations.inc;\n}}\n}}\n"
    )
    return config


@needs_nginx
@pytest.mark.browser
class TheProxyInFront(BrowserTestCase):
    def setUp(self) -> None:
        from django.contrib.auth import get_user_model

        self.user = get_user_model().objects.create_user("ada", password=PASSWORD)
        self.tmp = Path(settings.DATA_DIR) / f"nginx-{os.getpid()}-{free_port()}"
        self.tmp.mkdir(parents=True)
        self.port = free_port()
        config = nginx_config(self.tmp, f"127.0.0.1:{self._port}", self.port)
        self.nginx = subprocess.Popen([NGINX, "-c", str(config), "-p", str(self.tmp)], stderr=subprocess.PIPE)
        self.addCleanup(self._stop_nginx)
        wait_until(self._nginx_answers, timeout=30)

    def _stop_nginx(self) -> None:
        self.nginx.terminate()
        self.nginx.wait(timeout=30)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _nginx_answers(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def send_headers(self, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
        """Headers and a first kilobyte of a body that would be much larger: the refusal comes without it."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.putrequest("POST", path, skip_host=True)
        for name, value in {"Host": self.host, **headers}.items():
            conn.putheader(name, value)
        conn.endheaders(b"x" * 1024)
        return conn.getresponse()

    def error_log(self) -> str:
        return (self.tmp / "error.log").read_text()

    def body_files(self) -> list[Path]:
        return [p for p in (self.tmp / "client_body").rglob("*") if p.is_file()]

    def test_nginx_refuses_a_body_without_a_session_before_reading_it(self) -> None:
        response = self.send_headers("/datasets/upload/", {"Content-Length": str(900 * 1024)})
        assert response.status == 403, self.error_log()
        assert self.body_files() == []
        assert Dataset.objects.count() == 0

    def test_nginx_refuses_a_body_over_the_cap_at_once(self) -> None:
        response = self.send_headers("/datasets/upload/", {"Content-Length": str(2**30)})
        assert response.status == 413

    def test_a_signed_in_request_goes_through_to_django(self) -> None:
        response = self.send_headers(
            "/datasets/upload/", {"Content-Length": "1024", "Cookie": session_cookie(self.user)}
        )
        # Django answered: the session passed nginx's check, and the form's CSRF check refused the rest.
        assert response.status == 403, self.error_log()
        assert b"CSRF" in response.read()

    def test_nginx_serves_the_static_files(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request("GET", "/static/css/trainyard.css", headers={"Host": self.host})
        response = conn.getresponse()
        assert response.status == 200
        assert response.read() == (ROOT / "static" / "css" / "trainyard.css").read_bytes()
        assert "nginx" in response.getheader("Server", "")
