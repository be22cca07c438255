"""Production settings: `check --deploy` with the compose file's settings reports nothing; the Django
cache keeps JSON, never pickle; every page answers with a Content Security Policy."""

from __future__ import annotations

import os
import pickle
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.cache import caches

from tests.test_deployment_compose import compose, needs_compose

ROOT = Path(__file__).resolve().parent.parent
SECRETS = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "POSTGRES_PASSWORD": "pw",
    "REDIS_PASSWORD": "redispw",
    "TRAINYARD_S3_ACCESS_KEY_ID": "ak",
    "TRAINYARD_S3_SECRET_ACCESS_KEY": "sk",
}


def web_environment() -> dict[str, str]:
    proc = compose("config", **SECRETS)
    assert proc.returncode == 0, proc.stderr
    return {k: str(v) for k, v in yaml.safe_load(proc.stdout)["services"]["web"]["environment"].items()}


def manage(tmp_path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "HTTPS"}}
    # The container's paths, moved to a temporary folder (the check does not connect to the services).
    paths = {"TRAINYARD_DATA_DIR": str(tmp_path / "data"), "STATIC_ROOT": str(tmp_path / "static")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env, **paths, "TRAINYARD_NO_BOOTSTRAP": "1"},
        capture_output=True,
        text=True,
    )


@needs_compose
def test_check_deploy_with_the_compose_settings_reports_nothing(tmp_path):
    env = web_environment()
    assert env["HTTPS"] == "true" and env["REDIS_URL"] == "redis://:redispw@redis:6379/0"
    proc = manage(tmp_path, env, "check", "--deploy", "--fail-level", "DEBUG")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "System check identified no issues" in proc.stdout, proc.stdout + proc.stderr


@needs_compose
def test_check_deploy_without_https_names_what_is_missing(tmp_path):
    env = {**web_environment(), "HTTPS": "false"}
    proc = manage(tmp_path, env, "check", "--deploy", "--fail-level", "WARNING")
    assert proc.returncode != 0
    assert "security.W004" in proc.stderr + proc.stdout  # HSTS
    assert "security.W008" in proc.stderr + proc.stdout  # SSL redirect


def test_the_settings_are_strict_in_every_mode(settings):
    assert settings.CSRF_COOKIE_HTTPONLY and settings.SESSION_COOKIE_HTTPONLY
    validators = {v["NAME"].rsplit(".", 1)[1] for v in settings.AUTH_PASSWORD_VALIDATORS}
    assert validators == {
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    }
    # The embedded mode is served over plain HTTP: no redirect to https there.
    assert not settings.HTTPS and not getattr(settings, "SECURE_SSL_REDIRECT", False)


@pytest.mark.django_db
def test_the_redis_cache_stores_json_not_pickle():
    cache = caches["datasets"]
    cache.set("security-test", {"message": "rejected", "ids": [1, 2]}, 30)
    raw = cache._cache.get_client("security-test").get(cache.make_and_validate_key("security-test"))
    assert raw == b'{"message": "rejected", "ids": [1, 2]}'
    assert cache.get("security-test") == {"message": "rejected", "ids": [1, 2]}
    cache.set("security-count", 1, 30)
    assert cache.incr("security-count") == 2


@pytest.mark.django_db
def test_a_pickle_planted_in_redis_is_never_unpickled():
    cache = caches["datasets"]

    class Boom:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    key = cache.make_and_validate_key("security-planted")
    cache._cache.get_client(key, write=True).set(key, pickle.dumps(Boom()))
    with pytest.raises(ValueError):  # not JSON: refused, not run
        cache.get("security-planted")
    cache.delete("security-planted")


@pytest.mark.django_db
def test_every_page_has_a_content_security_policy(client, owner):
    client.force_login(owner)
    for url in ("/", "/datasets/", "/experiments/new/", "/login/"):
        policy = client.get(url).headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-eval" not in policy
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
