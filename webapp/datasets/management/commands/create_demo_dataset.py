from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from webapp.datasets import intake
from webapp.datasets.demo import DEMO_NAME, write_digits_folder
from webapp.datasets.models import Dataset, DatasetSource
from webapp.datasets.rejection import DatasetRejected
from webapp.teams.models import Team

DEMO_ROOT = "datasets/builtin/digits"


class Command(BaseCommand):
    help = "Create the built-in demo dataset (handwritten digits, no download) for a team."

    def add_arguments(self, parser):
        parser.add_argument("--team", default="Demo team", help="team that owns it (created if missing)")

    def handle(self, *args, team: str, **options):
        team_obj, _ = Team.objects.get_or_create(name=team)
        existing = Dataset.objects.versions_of(team_obj.pk, DEMO_NAME).first()
        if existing is not None and existing.path.is_dir() and existing.is_ready and existing.split_file:
            self.stdout.write(f"demo dataset already there: {existing.path}")
            return
        dataset = existing or Dataset(
            team=team_obj,
            name=DEMO_NAME,
            source=DatasetSource.BUILTIN,
            root=DEMO_ROOT,
            description="scikit-learn's handwritten digits: 1,797 grayscale 8x8 images, 10 classes.",
        )
        if not dataset.path.is_dir():
            write_digits_folder(dataset.path)
        try:
            intake.add_in_place(dataset)  # every image checked, statistics and health report, in this process
        except DatasetRejected as exc:
            raise CommandError(f"could not register the demo dataset: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"demo dataset: {dataset.num_images} images in {dataset.path}"))
