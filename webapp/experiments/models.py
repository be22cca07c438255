from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from webapp.datasets.models import Dataset
from webapp.teams.models import Team


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    STOPPED_EARLY = "stopped_early", "Stopped early"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = frozenset({Status.QUEUED, Status.RUNNING})
FINISHED_STATUSES = frozenset({Status.SUCCEEDED, Status.STOPPED_EARLY, Status.FAILED, Status.CANCELLED})


class Queue(models.TextChoices):
    GPU = "gpu", "GPU"
    CPU = "cpu", "CPU"


class Experiment(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="experiments")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="experiments")
    # PROTECT: a dataset is never deleted from under an experiment that used it.
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="experiments")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    config = models.JSONField(help_text="the full resolved training config")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    queue = models.CharField(max_length=8, choices=Queue.choices, default=Queue.CPU)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    test_metrics = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}"

    def get_absolute_url(self) -> str:
        return reverse("experiment_detail", args=[self.pk])

    @property
    def group_name(self) -> str:
        return f"experiment.{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def epochs(self) -> int:
        return int(self.config.get("epochs", 0))

    def claim(self, worker: str) -> bool:
        """Atomically move queued -> running; False when someone else has it or it was cancelled."""
        claimed = Experiment.objects.filter(pk=self.pk, status=Status.QUEUED).update(
            status=Status.RUNNING, started_at=timezone.now(), worker=worker, error="")
        if claimed:
            self.refresh_from_db()
        return bool(claimed)

    def finish(self, status: str, error: str = "", test_metrics: dict | None = None) -> None:
        self.status, self.error, self.finished_at = status, error, timezone.now()
        self.test_metrics = test_metrics if test_metrics is not None else self.test_metrics
        self.save(update_fields=["status", "error", "finished_at", "test_metrics"])

    def to_dict(self) -> dict:
        return {
            "id": self.pk, "name": self.name, "team": self.team_id, "dataset": self.dataset_id,
            "owner": self.owner.get_username(), "status": self.status, "status_label": self.get_status_display(),
            "queue": self.queue, "config": self.config, "error": self.error, "test_metrics": self.test_metrics,
            "epochs": self.epochs, "created_at": self.created_at.isoformat() if self.created_at else None,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


class EpochMetric(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="epoch_metrics")
    epoch = models.PositiveIntegerField()
    train_loss = models.FloatField()
    train_acc = models.FloatField()
    val_loss = models.FloatField(null=True, blank=True)
    val_acc = models.FloatField(null=True, blank=True)
    lr = models.FloatField()
    seconds = models.FloatField()
    images_per_sec = models.FloatField(default=0)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["experiment", "epoch"]
        constraints = [models.UniqueConstraint(fields=["experiment", "epoch"], name="one_metric_row_per_epoch")]

    def __str__(self) -> str:
        return f"{self.experiment} epoch {self.epoch}"

    FIELDS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds", "images_per_sec")

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.FIELDS}
