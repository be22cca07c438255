from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Count, Max, OuterRef, Subquery
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.urls import reverse

import training
from webapp.core.serialize import iso
from webapp.datasets import cache, storage
from webapp.datasets.analysis import folder_split
from webapp.datasets.health import FLAGGED
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
# Not a row's status: a rejected upload leaves no row, and what the pages and the status endpoint say of
# its id is this (with the message kept in `notices`).
REJECTED, REJECTED_LABEL = "rejected", "Rejected"


def statuses_for_pages() -> dict[str, str]:
    """Every status a page can meet, by name, for the scripts (`json_script`): rows' and REJECTED."""
    return {**{s.name: s.value for s in DatasetStatus}, "REJECTED": REJECTED}


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
    def versions_of(self, team_id: int, name: str) -> DatasetQuerySet:
        """Every version of a name in a team, newest first."""
        return self.filter(team_id=team_id, name=name).order_by("-version")

    def next_version(self, team: Team, name: str) -> int:
        return (self.versions_of(team.pk, name).aggregate(v=Max("version"))["v"] or 0) + 1

    def latest_versions(self) -> DatasetQuerySet:
        """Only the newest version of each (team, name), each with `version_count`: for lists."""
        same_name = Dataset.objects.filter(team=OuterRef("team"), name=OuterRef("name"))
        count = same_name.order_by().values("team").annotate(n=Count("pk")).values("n")
        return self.filter(pk=Subquery(same_name.order_by("-version").values("pk")[:1])).annotate(
            version_count=Subquery(count)
        )

    def delete_unused_files(self, content_hash: str = "", split_file: str = "") -> None:
        """Remove stored files that no row refers to (any more): a content hash's images, samples and
        splits with this host's cached copy, or else one split file. Identical content is shared."""
        if content_hash and not Dataset.objects.filter(content_hash=content_hash).exists():
            storage.delete_content(content_hash)
            cache.forget(content_hash)
        elif split_file and not Dataset.objects.filter(split_file=split_file).exists():
            storage.delete(split_file)


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
    upload = models.FileField(upload_to=storage.upload_to, max_length=300, blank=True)
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
    # The lease of the worker processing it (webapp.core.leases): who holds it, until when unless renewed.
    lease_holder = models.CharField(max_length=250, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    restarts = models.PositiveIntegerField(default=0, help_text="times processing restarted after its worker was lost")

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
    def is_failed(self) -> bool:
        return self.status == DatasetStatus.FAILED

    @property
    def is_server_folder(self) -> bool:
        return self.source == DatasetSource.FOLDER

    @property
    def in_place(self) -> bool:
        """Its images are read where they are (built-in data, a server folder), not from storage."""
        return bool(self.root)

    @property
    def was_ready(self) -> bool:
        """Processed successfully at least once: a failure then marks it failed instead of removing it."""
        return self.processed_at is not None

    def is_used(self) -> bool:
        return self.pk is not None and (self.experiments.exists() or self.sweeps.exists())

    def versions(self) -> models.QuerySet[Dataset]:
        return Dataset.objects.versions_of(self.team_id, self.name)

    def health_flags(self) -> list[dict]:
        """The health report's problems, then its warnings: what a list shows of a dataset's health."""
        checks = self.report.get("checks", [])
        return [c for level in FLAGGED for c in checks if c["level"] == level]

    # --- files: what the experiment worker uses --------------------------------------------------
    @property
    def path(self) -> Path:
        """The image folder on this host (for stored data: the cache folder, see `local_path()`)."""
        if self.root:
            root = Path(self.root)
            return root if root.is_absolute() else Path(settings.MEDIA_ROOT) / root
        return cache.cache_path(self.content_hash)

    def local_path(self) -> Path:
        """The image folder on this host, extracted from storage into the cache on first use."""
        if self.root:
            if not self.path.is_dir():
                raise FileNotFoundError(f"the dataset folder {self.path} is missing")
            return self.path
        if not self.content_hash:
            raise FileNotFoundError(f"dataset {self} has no images yet (status: {self.get_status_display()})")
        return cache.ensure_local(self.content_hash)

    def splits(self, local: bool = True) -> training.Splits:
        """Train/val/test as training takes them: absolute paths and class indices, the stored split.

        local=True (workers): the images are made available on this host first (see `local_path()`).
        local=False (web checks): the same lists without touching the images; the paths are where
        they will be once `local_path()` has run.
        """
        root = self.local_path() if local else self.path
        stored = storage.load_split(self.split_file)
        if stored is None:  # never processed (rows made in code): derive it the same way processing does
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

    # --- data that experiments rely on ------------------------------------------------------------
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

    # --- as JSON: one dictionary for the API and the pages ----------------------------------------
    def status_dict(self) -> dict:
        """Its state: what the page polls while it is processed (a rejected upload's id answers the same
        keys, see notices.rejection_status_dict)."""
        return {
            "id": self.pk,
            "status": self.status,
            "status_label": self.get_status_display(),
            "stage": self.stage,
            "progress": self.progress,
            "error": self.error,
            "url": self.get_absolute_url(),
        }

    def to_dict(self) -> dict:
        """Everything about it: its state (`status_dict`) and its data, split and statistics."""
        return {
            **self.status_dict(),
            "name": self.name,
            "version": self.version,
            "team": self.team_id,
            "description": self.description,
            "source": self.source,
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
            "created_at": iso(self.created_at),
            "processed_at": iso(self.processed_at),
        }


@receiver(post_delete, sender=Dataset)
def _delete_files(sender, instance: Dataset, **kwargs) -> None:
    # After the commit: a rolled-back delete must not have removed the files.
    def delete() -> None:
        if instance.upload:
            storage.delete(instance.upload.name)
        Dataset.objects.delete_unused_files(instance.content_hash, instance.split_file)

    transaction.on_commit(delete)


class Rejection(models.Model):
    """Why an upload processed in the background was rejected. The upload leaves no row and no files, so
    this record (under the id its dataset had, which its page follows) is what remains of it."""

    dataset_id = models.PositiveIntegerField(unique=True, help_text="the id the rejected dataset had")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="rejections")
    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField(default=1)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    message = models.TextField()
    shown = models.BooleanField(default=False, help_text="shown once to the uploader on a page")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} (rejected)"

    def to_notice(self) -> dict:
        return {
            "id": self.dataset_id,
            "team": self.team_id,
            "name": self.name,
            "version": self.version,
            "user": self.user_id,
            "message": self.message,
        }


class ChunkedUpload(models.Model):
    """An archive being uploaded in chunks (webapp/datasets/chunked.py): its bytes so far are in a file of
    its own folder under TRAINYARD_UPLOAD_DIR; finishing hands that file to the upload intake."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chunked_uploads")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="chunked_uploads")
    fields = models.JSONField(default=dict, help_text="the upload form's other fields: name, description, split")
    filename = models.CharField(max_length=255)
    size = models.BigIntegerField(help_text="the archive's declared size, bytes")
    received = models.BigIntegerField(default=0, help_text="bytes stored so far")
    sha256 = models.CharField(max_length=64, blank=True, help_text="checked on finish when given")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField(help_text="removed with its bytes after this, unless a chunk arrives")

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.received} of {self.size} bytes)"

    @property
    def folder(self) -> Path:
        return Path(settings.UPLOAD_DIR) / self.id.hex

    @property
    def data_path(self) -> Path:
        return self.folder / "data"

    def to_dict(self) -> dict:
        return {
            "id": str(self.id),
            "url": reverse("api_chunked_upload", args=[self.id]),
            "team": self.team_id,
            "filename": self.filename,
            "size": self.size,
            "offset": self.received,
            "chunk_max": settings.UPLOAD_CHUNK_MAX,
            "sha256": self.sha256,
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
        }


@receiver(post_delete, sender=ChunkedUpload)
def _delete_chunks(sender, instance: ChunkedUpload, **kwargs) -> None:
    """However the row goes (finished, cancelled, expired, its owner or team deleted), its bytes go too."""
    folder = instance.folder  # now: the instance loses its id once the delete is done
    transaction.on_commit(lambda: shutil.rmtree(folder, ignore_errors=True))
