"""Free this host's dataset cache: copies of datasets no row uses any more, and leftovers of crashed
processing. Run it on each host that trains (from cron, say); the stored files are not touched."""

from __future__ import annotations

import shutil
import time
from contextlib import nullcontext
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from webapp.datasets import cache
from webapp.datasets.models import Dataset

LEFTOVER_AGE = 24 * 3600  # staging folders younger than this may belong to processing in progress


class Command(BaseCommand):
    help = "Remove cached dataset copies that no dataset uses, and day-old staging leftovers, from this host."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="only list what would be removed")

    def handle(self, *args, dry_run: bool, **options):
        root = Path(settings.DATASET_CACHE_DIR)
        if not root.is_dir():
            self.stdout.write("no dataset cache on this host")
            return
        used = set(Dataset.objects.exclude(content_hash="").values_list("content_hash", flat=True))
        removed, freed = 0, 0
        for path in sorted(root.iterdir()):
            name = path.name
            if name.startswith((".staging-", ".work-", "tmp")):
                stale = time.time() - path.stat().st_mtime > LEFTOVER_AGE
            else:
                stale = name.split(".")[0] not in used
            if not stale:
                continue
            size = (
                sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size
            )
            self.stdout.write(f"{'would remove' if dry_run else 'removing'} {path} ({size:,} bytes)")
            removed, freed = removed + 1, freed + size
            if dry_run:
                continue
            if path.is_dir():
                with cache.cache_lock(name) if len(name) == 64 else nullcontext():
                    shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        verb = "would free" if dry_run else "freed"
        self.stdout.write(self.style.SUCCESS(f"{removed} entries, {verb} {freed:,} bytes"))
