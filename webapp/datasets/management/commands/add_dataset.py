"""Add a dataset from the command line: a zip archive, a server folder or a torchvision dataset, with
the same checks as the upload page and the admin. --now processes it in this process (no worker)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError

from webapp.datasets import intake, notices
from webapp.datasets.archives import check_archive
from webapp.datasets.forms import MAX_EVAL_FRACTION
from webapp.datasets.models import Dataset, DatasetStatus
from webapp.datasets.processing import process
from webapp.datasets.rejection import DatasetRejected, Limits
from webapp.datasets.torchvision_import import SOURCES
from webapp.teams.models import Team


class Command(BaseCommand):
    help = "Add a dataset (new version when the name exists) from a zip, a server folder or torchvision's files."

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True, help="name of the team that owns it")
        parser.add_argument("--name", required=True)
        parser.add_argument("--description", default="")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--zip", type=Path, help="a zip archive (image folders, or images + a CSV)")
        source.add_argument("--folder", type=Path, help="a folder under TRAINYARD_DATASET_FOLDER_ROOTS, read in place")
        source.add_argument("--torchvision", choices=SOURCES.names(), help="import from the original files")
        parser.add_argument(
            "--files", type=Path, help="where torchvision's files are (default TRAINYARD_TORCHVISION_DIR)"
        )
        parser.add_argument("--download", action="store_true", help="download torchvision's files when missing")
        parser.add_argument("--seed", type=int, default=0, help="split seed")
        parser.add_argument("--val", type=float, default=0.15, help="validation fraction (when not fixed by folders)")
        parser.add_argument("--test", type=float, default=0.15, help="test fraction (when not fixed by folders)")
        parser.add_argument("--now", action="store_true", help="process here and now instead of on the dataset worker")

    def handle(self, *args, **o):
        for name in ("zip", "folder", "files"):  # call_command passes strings as given
            o[name] = Path(o[name]) if o[name] else None
        team = Team.objects.filter(name=o["team"]).first()
        if team is None:
            raise CommandError(f"no team named {o['team']!r}")
        if not (0 <= o["val"] < 1 and 0 <= o["test"] < 1 and o["val"] + o["test"] <= MAX_EVAL_FRACTION):
            raise CommandError(
                f"--val and --test must be fractions that leave at least {1 - MAX_EVAL_FRACTION:.0%} for training"
            )
        if intake.busy_version(team, o["name"]):
            raise CommandError(f"a version of {o['name']} is still being processed")
        dataset = Dataset(
            team=team,
            name=o["name"],
            description=o["description"],
            split_seed=o["seed"],
            val_fraction=o["val"],
            test_fraction=o["test"],
        )
        try:
            if o["zip"]:
                data = o["zip"].read_bytes()
                archive = SimpleUploadedFile(o["zip"].name, data, "application/zip")
                check = check_archive(archive, Limits.from_settings())
                archive.seek(0)
                dataset = intake.start_upload(dataset, archive, check, queue=not o["now"])
            elif o["folder"]:
                dataset = intake.start_folder(dataset, intake.check_folder(str(o["folder"])), queue=not o["now"])
            else:
                files = o["files"] or Path(settings.DATASET_TORCHVISION_DIR)
                intake.check_torchvision(o["torchvision"], files, o["download"])
                dataset = intake.start_torchvision(dataset, o["torchvision"], files, o["download"], queue=not o["now"])
        except (DatasetRejected, OSError) as exc:
            raise CommandError(str(exc)) from exc
        if not o["now"]:
            self.stdout.write(self.style.SUCCESS(f"{dataset} (id {dataset.pk}) is queued for the dataset worker"))
            return
        pk = dataset.pk
        if process(pk) != DatasetStatus.READY:
            row = Dataset.objects.filter(pk=pk).first()
            raise CommandError(row.error if row else (notices.rejection(pk) or {}).get("message", "rejected"))
        dataset = Dataset.objects.get(pk=pk)
        self.stdout.write(
            self.style.SUCCESS(f"{dataset}: {dataset.num_images} images in {len(dataset.classes)} classes")
        )
