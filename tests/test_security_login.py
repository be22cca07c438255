"""A burst of failed sign-ins is locked out (django-axes), on the login page and the admin's; the demo
superuser exists only in the embedded mode."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def fail_until_locked(client, url: str, username: str, limit: int) -> list[int]:
    return [client.post(url, {"username": username, "password": "wrong-guess"}).status_code for _ in range(limit)]


def test_a_burst_of_failed_sign_ins_locks_the_login_page(client, owner, settings):
    statuses = fail_until_locked(client, "/login/", owner.username, settings.AXES_FAILURE_LIMIT)
    assert statuses[:-1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)  # the form again, with its error
    assert statuses[-1] == 429
    # Now even the right password is refused, with a page that says why.
    response = client.post("/login/", {"username": owner.username, "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many failed sign-ins" in response.content
    assert "_auth_user_id" not in client.session


def test_the_admin_login_is_locked_the_same_way(client, django_user_model, settings):
    admin = django_user_model.objects.create_superuser("root", password=PASSWORD)
    fail_until_locked(client, "/admin/login/", admin.username, settings.AXES_FAILURE_LIMIT)
    response = client.post("/admin/login/", {"username": admin.username, "password": PASSWORD})
    assert response.status_code == 429
    assert client.get("/admin/").status_code == 302  # still not signed in


def test_a_lockout_does_not_lock_out_the_same_user_from_another_address(client, owner, settings):
    fail_until_locked(client, "/login/", owner.username, settings.AXES_FAILURE_LIMIT)
    response = client.post("/login/", {"username": owner.username, "password": PASSWORD}, REMOTE_ADDR="10.0.0.9")
    assert response.status_code == 302


def test_a_forwarded_for_header_does_not_escape_the_lockout(client, owner, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        client.post("/login/", {"username": owner.username, "password": "x"}, HTTP_X_FORWARDED_FOR=f"10.1.0.{n}")
    response = client.post(
        "/login/", {"username": owner.username, "password": PASSWORD}, HTTP_X_FORWARDED_FOR="10.2.0.1"
    )
    assert response.status_code == 429


def test_a_good_sign_in_resets_the_count(client, owner, settings):
    fail_until_locked(client, "/login/", owner.username, settings.AXES_FAILURE_LIMIT - 1)
    assert client.post("/login/", {"username": owner.username, "password": PASSWORD}).status_code == 302
    client.logout()
    statuses = fail_until_locked(client, "/login/", owner.username, settings.AXES_FAILURE_LIMIT - 1)
    assert 429 not in statuses


def test_the_demo_superuser_exists_only_in_the_embedded_mode(settings, tmp_path):
    settings.TRAINYARD_DEMO = True
    settings.DATA_DIR = tmp_path
    settings.EMBEDDED = False
    with pytest.raises(CommandError, match="only in the embedded mode"):
        call_command("create_demo_login")
    assert not get_user_model().objects.filter(username="demo").exists()
    settings.EMBEDDED = True
    call_command("create_demo_login")
    assert get_user_model().objects.get(username="demo").is_superuser
