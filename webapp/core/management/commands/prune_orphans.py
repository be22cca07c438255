"""Remove what no row refers to any more: uploads whose dataset row never came or is gone, experiment
folders (checkpoints, models, exports) of deleted experiments, and their objects in object storage. Run it
now and then (cron, or a periodic task); a file younger than --hours is kept, as it may belong to an
upload whose row is being made."""

from __future__ import annotations

import shutil
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from webapp.datasets import storage
from webapp.datasets.models import Dataset
from webapp.experiments import files
from webapp.experiments.models import Experiment


class Command(BaseCommand):
    help = "Delete orphaned dataset uploads and experiment folders (older than --hours)."

    def add_arguments(self, parser):
        parser.add_argument("--hours", type=float, default=24.0, help="keep orphans younger than this")
        parser.add_argument("--dry-run", action="store_true", help="list what would go, delete nothing")

    def handle(self, *args, hours: float, dry_run: bool, **options):
        cutoff = timezone.now() - timedelta(hours=hours)
        uploads = self.orphaned_uploads(cutoff)
        folders = self.orphaned_folders(cutoff)
        for name in uploads:
            if not dry_run:
                storage.storage().delete(name)
        for path in folders:
            if not dry_run:
                shutil.rmtree(path, ignore_errors=True)
        stored = self.orphaned_stored_experiments()
        for pk in stored:
            if not dry_run:
                files.delete_stored(pk)
        verb = "would delete" if dry_run else "deleted"
        self.stdout.write(
            f"{verb} {len(uploads)} orphaned uploads, {len(folders)} orphaned experiment folders and the "
            f"stored files of {len(stored)} deleted experiments"
        )

    def orphaned_uploads(self, cutoff) -> list[str]:
        store = storage.storage()
        try:
            _, names = store.listdir(storage.UPLOAD_PREFIX)
        except FileNotFoundError:
            return []
        used = set(Dataset.objects.exclude(upload="").values_list("upload", flat=True))
        candidates = [f"{storage.UPLOAD_PREFIX}/{n}" for n in names]
        return [n for n in candidates if n not in used and store.get_modified_time(n) < cutoff]

    def orphaned_stored_experiments(self) -> list[int]:
        """Experiments with objects in object storage but no row (rows come before any upload)."""
        stored = files.stored_object_ids()
        existing = set(Experiment.objects.filter(pk__in=stored).values_list("pk", flat=True))
        return sorted(stored - existing)

    def orphaned_folders(self, cutoff) -> list:
        stored = files.stored_experiment_ids()
        existing = set(Experiment.objects.filter(pk__in=stored).values_list("pk", flat=True))
        stamp = cutoff.timestamp()
        return [p for pk, p in stored.items() if pk not in existing and p.stat().st_mtime < stamp]
