from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from webapp.teams.models import Role, Team

USERNAME = "demo"


def credentials_file() -> Path:
    return Path(settings.DATA_DIR) / "demo-login.txt"


class Command(BaseCommand):
    help = "Demo mode only: create the demo login (random password, kept in the data folder) and print it."

    def add_arguments(self, parser):
        parser.add_argument("--team", default="Demo team")

    def handle(self, *args, team: str, **options):
        if not settings.TRAINYARD_DEMO:
            raise CommandError("demo logins exist only in demo mode (TRAINYARD_DEMO=1); use createsuperuser")
        if not settings.EMBEDDED:  # a superuser with a password in a file: never on a shared server
            raise CommandError("the demo login exists only in the embedded mode (no DATABASE_URL); use createsuperuser")
        User = get_user_model()
        path = credentials_file()
        user = User.objects.filter(username=USERNAME).first()
        if user is None or not path.exists():
            password = secrets.token_urlsafe(12)
            if user is None:
                user = User.objects.create_superuser(USERNAME, email="", password=password)
            else:
                user.set_password(password)
                user.save()
            path.write_text(password + "\n")
            path.chmod(0o600)
        team_obj, _ = Team.objects.get_or_create(name=team)
        if team_obj.role_of(user) is None:
            team_obj.add_member(user, Role.OWNER)
        self.stdout.write(f"{USERNAME} / {path.read_text().strip()}")
