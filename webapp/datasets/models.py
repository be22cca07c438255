from __future__ import annotations

from functools import partial
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Max
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.urls import reverse

import training
from webapp.datasets import content
from webapp.teams.models import Team


class DatasetStatus(models.TextChoices):
    PROCESSING = "processing", "Processing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class DatasetSource(models.TextChoices):
    BUILTIN = "builtin", "Built-in"
    UPLOAD = "upload", "Uploaded archive"
    FOLDER = "folder", "Folder on the server"
    TORCHVISION = "torchvision", "torchvision original files"


WAITING = "Waiting for a worker"  # the stage of a row whose task is sent; the worker claims it from this

# Fields that decide which images a model trains and is evaluated on. Once an experiment has used a
# dataset they never change: a changed archive becomes a new version instead.
DATA_FIELDS = (
    "team_id",
    "name",
    "version",
    "source",
    "root",
    "archive",
    "content_hash",
    "split_seed",
    "val_fraction",
    "test_fraction",
)


class DatasetQuerySet(models.QuerySet):
    def next_version(self, team: Team, name: str) -> int:
        return (self.filter(team=team, name=name).aggregate(v=Max("version"))["v"] or 0) + 1

    def latest_versions(self) -> DatasetQuerySet:
        """Only the newest version of each (team, name), for lists."""
        newest = self.filter(team=models.OuterRef("team"), name=models.OuterRef("name")).order_by("-version")
        return self.filter(pk=models.Subquery(newest.values("pk")[:1]))


class Dataset(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField(default=1, help_text="a changed archive under the same name is a new version")
    description = models.TextField(blank=True)
    source = models.CharField(max_length=12, choices=DatasetSource.choices, default=DatasetSource.UPLOAD)
    status = models.CharField(max_length=12, choices=DatasetStatus.choices, default=DatasetStatus.PROCESSING)
    # Progress of processing, for the progress bar: what is happening and how far along (0-100).
    stage = models.CharField(max_length=80, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    # An image folder used in place: relative to MEDIA_ROOT (built-in data), or absolute (a server
    # folder an admin registered). Empty for uploads and imports, whose images are in `archive`.
    root = models.CharField(max_length=500, blank=True)
    # The archive as uploaded, kept only until processing ends (then deleted).
    upload = models.FileField(upload_to=content.upload_to, max_length=300, blank=True)
    # The validated images in canonical layout, in storage; each host extracts it once into its cache.
    archive = models.CharField(max_length=300, blank=True, help_text="storage name of the packed images")
    content_hash = models.CharField(
        max_length=64, blank=True, db_index=True, help_text="sha256 over every image's canonical path and bytes"
    )
    origin = models.JSONField(default=dict, blank=True, help_text="where the data came from (file name, layout, ...)")
    classes = models.JSONField(default=list, blank=True)
    class_counts = models.JSONField(default=dict, blank=True)
    num_images = models.PositiveIntegerField(default=0)
    size_bytes = models.BigIntegerField(default=0)
    # The split when the folder does not fix one: stratified, drawn from this seed and these fractions.
    split_seed = models.PositiveIntegerField(default=0)
    val_fraction = models.FloatField(default=0.15)
    test_fraction = models.FloatField(default=0.15)
    fixed_split = models.BooleanField(default=False, help_text="the archive's train/val/test folders fix the split")
    split_counts = models.JSONField(default=dict, blank=True, help_text="{split: {class: images}}")
    split_file = models.CharField(max_length=300, blank=True, help_text="storage name of the stored split")
    # Per-channel (RGB) mean and std of the training split on the 0-1 scale: what training normalizes with.
    mean = models.JSONField(default=list, blank=True)
    std = models.JSONField(default=list, blank=True)
    report = models.JSONField(default=dict, blank=True, help_text="health report and image statistics")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    objects = DatasetQuerySet.as_manager()

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name", "version"], name="dataset_version_unique_per_team"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def get_absolute_url(self) -> str:
        return reverse("dataset_detail", args=[self.pk])

    # --- state ---------------------------------------------------------------------------------
    @property
    def is_ready(self) -> bool:
        return self.status == DatasetStatus.READY

    @property
    def is_processing(self) -> bool:
        return self.status == DatasetStatus.PROCESSING

    @property
    def in_place(self) -> bool:
        """Its images are read where they are (built-in data, a server folder), not from storage."""
        return bool(self.root)

    @property
    def was_ready(self) -> bool:
        """Processed successfully at least once: a failure then marks it failed instead of removing it."""
        return self.processed_at is not None

    def is_used(self) -> bool:
        return self.pk is not None and self.experiments.exists()

    def versions(self) -> models.QuerySet[Dataset]:
        return Dataset.objects.filter(team_id=self.team_id, name=self.name).order_by("-version")

    # --- files: what the experiment worker uses --------------------------------------------------
    @property
    def path(self) -> Path:
        """The image folder on this host (for stored data: the cache folder, see `local_path()`)."""
        if self.root:
            root = Path(self.root)
            return root if root.is_absolute() else Path(settings.MEDIA_ROOT) / root
        return content.cache_path(self.content_hash)

    def local_path(self) -> Path:
        """The image folder on this host, extracted from storage into the cache on first use."""
        if self.root:
            if not self.path.is_dir():
                raise FileNotFoundError(f"the dataset folder {self.path} is missing")
            return self.path
        if not self.content_hash:
            raise FileNotFoundError(f"dataset {self} has no images yet (status: {self.get_status_display()})")
        return content.ensure_local(self.content_hash)

    def splits(self, local: bool = True) -> training.Splits:
        """Train/val/test as training takes them: absolute paths and class indices, the stored split.

        local=True (workers): the images are made available on this host first (see `local_path()`).
        local=False (web checks): the same lists without touching the images; the paths are where
        they will be once `local_path()` has run.
        """
        root = self.local_path() if local else self.path
        stored = content.load_split(self.split_file)
        if stored is None:  # never processed (rows made in code): derive it the same way processing does
            from webapp.datasets.processing import folder_split

            stored = folder_split(self.local_path(), self.val_fraction, self.test_fraction, self.split_seed)

        def absolute(part: str) -> list[tuple[str, int]]:
            return [(str(root / target), int(label)) for target, label in stored[part]]

        return training.Splits(list(stored["classes"]), absolute("train"), absolute("val"), absolute("test"))

    def channel_stats(self) -> tuple[list[float], list[float]] | None:
        """(mean, std) per RGB channel on the 0-1 scale, from the training split; None before processing."""
        if len(self.mean) == 3 and len(self.std) == 3:
            return list(self.mean), list(self.std)
        return None

    def sample_names(self) -> dict[str, list[str]]:
        return self.report.get("samples", {})

    # --- processing ------------------------------------------------------------------------------
    def scan(self) -> None:
        """Process an in-place folder now, in this process (built-in data, tests); raises DatasetRejected."""
        from webapp.datasets.processing import process_in_place

        process_in_place(self)

    def queue_processing(self) -> None:
        """Mark for processing and send the task once this transaction commits (call inside one)."""
        from webapp.datasets.tasks import send

        Dataset.objects.filter(pk=self.pk).update(status=DatasetStatus.PROCESSING, stage=WAITING, progress=0, error="")
        self.status, self.stage, self.progress, self.error = DatasetStatus.PROCESSING, WAITING, 0, ""
        transaction.on_commit(partial(send, self.pk))

    def locked_changes(self) -> list[str]:
        """The data fields changed since loading, when experiments use this dataset (they must not change)."""
        if self.pk is None or not self.is_used():
            return []
        stored = Dataset.objects.filter(pk=self.pk).values(*DATA_FIELDS).first() or {}
        return [f.removesuffix("_id") for f in DATA_FIELDS if f in stored and stored[f] != getattr(self, f)]

    def clean(self) -> None:
        changed = self.locked_changes()
        if changed:
            raise ValidationError(
                f"Experiments use this dataset, so its data and split cannot change ({', '.join(changed)}). "
                "Upload the changed data under the same name to make a new version."
            )

    def delete_files(self) -> None:
        """Remove the stored files nobody else uses (identical content is shared across rows)."""
        if self.upload:
            self.upload.storage.delete(self.upload.name)
        if (
            self.content_hash
            and not Dataset.objects.filter(content_hash=self.content_hash).exclude(pk=self.pk).exists()
        ):
            content.delete_content(self.content_hash)
        elif self.split_file and not Dataset.objects.filter(split_file=self.split_file).exclude(pk=self.pk).exists():
            content.delete_split(self.split_file)

    def to_dict(self) -> dict:
        return {
            "id": self.pk,
            "name": self.name,
            "version": self.version,
            "team": self.team_id,
            "description": self.description,
            "source": self.source,
            "status": self.status,
            "status_label": self.get_status_display(),
            "stage": self.stage,
            "progress": self.progress,
            "error": self.error,
            "classes": self.classes,
            "class_counts": self.class_counts,
            "num_images": self.num_images,
            "size_bytes": self.size_bytes,
            "content_hash": self.content_hash,
            "split": {
                "seed": self.split_seed,
                "val_fraction": self.val_fraction,
                "test_fraction": self.test_fraction,
                "fixed": self.fixed_split,
                "counts": self.split_counts,
            },
            "mean": self.mean,
            "std": self.std,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "processed_at": self.processed_at.isoformat() if self.processed_at else None,
        }

    def status_dict(self) -> dict:
        return {
            "id": self.pk,
            "status": self.status,
            "status_label": self.get_status_display(),
            "stage": self.stage,
            "progress": self.progress,
            "error": self.error,
            "url": self.get_absolute_url(),
        }


@receiver(post_delete, sender=Dataset)
def _delete_files(sender, instance: Dataset, **kwargs) -> None:
    # After the commit: a rolled-back delete must not have removed the files.
    transaction.on_commit(instance.delete_files)
