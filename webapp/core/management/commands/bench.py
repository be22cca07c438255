"""manage.py bench [--quick] [--json FILE] [--only NAME ...]: every benchmark, the library's and the
web's (pages at scale, a run watched by many websocket clients), against a throw-away database."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from training.bench import BENCHMARKS
from training.bench.cli import add_arguments, run
from webapp.core import embedded_redis
from webapp.core.bench.database import scratch_database
from webapp.core.bench.product import shared_worker
from webapp.core.bench.suite import WEB, register


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser) -> None:
        add_arguments(parser)

    def handle(self, *args, quick: bool, json: str | None, only: list[str] | None, **options) -> None:
        register()
        names = only or BENCHMARKS.names()
        if any(n in WEB for n in names) and not embedded_redis.is_up(settings.REDIS_URL):
            raise CommandError(
                f"Redis does not answer at {settings.REDIS_URL}: start it (manage.py up) or set REDIS_URL"
            )
        try:
            with scratch_database(), shared_worker():
                run(names, quick, json, out=self.stdout.write)
        except KeyError as exc:
            raise CommandError(exc.args[0]) from exc
