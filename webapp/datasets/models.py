from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import models

import training
from webapp.teams.models import Team


class DatasetStatus(models.TextChoices):
    PROCESSING = "processing", "Processing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class DatasetSource(models.TextChoices):
    BUILTIN = "builtin", "Built-in"
    UPLOAD = "upload", "Uploaded archive"
    FOLDER = "folder", "Folder on the server"


class Dataset(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    source = models.CharField(max_length=10, choices=DatasetSource.choices, default=DatasetSource.UPLOAD)
    status = models.CharField(max_length=12, choices=DatasetStatus.choices, default=DatasetStatus.PROCESSING)
    # An image folder: relative to MEDIA_ROOT for managed data, absolute for a registered server folder.
    root = models.CharField(max_length=500)
    classes = models.JSONField(default=list, blank=True)
    num_images = models.PositiveIntegerField(default=0)
    # The split when the folder does not fix one: stratified, drawn from this seed and these fractions.
    split_seed = models.PositiveIntegerField(default=0)
    val_fraction = models.FloatField(default=0.15)
    test_fraction = models.FloatField(default=0.15)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="dataset_name_unique_per_team")]

    def __str__(self) -> str:
        return self.name

    @property
    def path(self) -> Path:
        root = Path(self.root)
        return root if root.is_absolute() else Path(settings.MEDIA_ROOT) / root

    @property
    def is_ready(self) -> bool:
        return self.status == DatasetStatus.READY

    def splits(self) -> training.Splits:
        return training.load_image_folder(self.path, self.val_fraction, self.test_fraction, self.split_seed)

    def scan(self) -> None:
        """Read class names and counts from the folder and mark the dataset ready."""
        splits = self.splits()
        self.classes = splits.classes
        self.num_images = sum(splits.counts().values())
        self.status = DatasetStatus.READY
        self.error = ""

    def to_dict(self) -> dict:
        return {"id": self.pk, "name": self.name, "team": self.team_id, "status": self.status,
                "classes": self.classes, "num_images": self.num_images}
