from __future__ import annotations

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone

from training.steps import steps_info
from webapp.core import leases
from webapp.core.markdown import render_markdown
from webapp.core.paths import hide_paths
from webapp.core.queues import TRAINING_QUEUES, Queue, class_queue, route
from webapp.core.serialize import iso
from webapp.datasets.models import Dataset
from webapp.experiments import files
from webapp.experiments.states import EXTENDABLE, RESUMABLE, CancelOutcome, Status
from webapp.teams.models import Team


class Priority(models.TextChoices):
    HIGH = "high", "High"
    NORMAL = "normal", "Normal"
    LOW = "low", "Low"


# Celery's Redis transport serves lower numbers first (0 is the highest priority).
BROKER_PRIORITY = {Priority.HIGH: 0, Priority.NORMAL: 3, Priority.LOW: 6}
PRIORITY_RANK = {Priority.HIGH: 0, Priority.NORMAL: 1, Priority.LOW: 2}


class Tag(models.Model):
    """A label a team puts on its experiments (filter the list by it)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=40)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="one_tag_name_per_team")]

    def __str__(self) -> str:
        return self.name


class Experiment(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="experiments")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="experiments")
    # PROTECT: a dataset is never deleted from under an experiment that used it.
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="experiments")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    config = models.JSONField(help_text="the full resolved training config")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    queue = models.CharField(max_length=8, choices=[(q.value, q.label) for q in TRAINING_QUEUES], default=Queue.CPU)
    # A GPU class (`a100`): the run goes to the queue gpu-<class>, served only by workers of that class.
    gpu_class = models.CharField(max_length=32, blank=True, default="", help_text="empty: any GPU")
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    tags = models.ManyToManyField(Tag, blank=True, related_name="experiments")
    notes = models.TextField(blank=True, help_text="Markdown: what the team learned from this run")
    pinned = models.BooleanField(default=False, db_index=True, help_text="pinned experiments come first in the list")
    presets = models.JSONField(default=list, blank=True, help_text="the presets the form started from, in order")
    cloned_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="clones")
    # Transfer from an earlier run: its final weights are the starting point (head replaced for new classes).
    init_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="descendants",
        verbose_name="start from the weights of",
    )
    # The epoch of `init_from`'s final model this run starts from: extending that run later writes a new
    # final model, and the one this run started from is kept under its epoch (files.started_from_path).
    init_from_epoch = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(
        null=True, blank=True, default=timezone.now, help_text="when it last entered the queue"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    # The lease of the worker running it (webapp.core.leases): who holds it, and until when unless renewed.
    lease_holder = models.CharField(max_length=250, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    restarts = models.PositiveIntegerField(default=0, help_text="times it was resumed after its worker was lost")
    error = models.TextField(blank=True)
    test_metrics = models.JSONField(null=True, blank=True)
    # Set by a user; the worker sees it at the next batch and ends the run as cancelled.
    cancel_requested = models.BooleanField(default=False)
    checkpoint_epoch = models.PositiveIntegerField(null=True, blank=True, help_text="epoch of the last checkpoint")
    best_epoch = models.PositiveIntegerField(null=True, blank=True)
    stop_reason = models.TextField(blank=True, help_text="why training ended before its last epoch")
    log = models.TextField(blank=True)
    # Reproducibility, recorded when a worker starts the run: versions, device, host, seed, dataset version and hash.
    environment = models.JSONField(default=dict, blank=True, help_text="what the run ran on (see training.environment)")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}"

    def get_absolute_url(self) -> str:
        return reverse("experiment_detail", args=[self.pk])

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        # The team it was loaded with: open sockets check their access again when it moves (signals.py).
        instance._loaded_team_id = instance.__dict__.get("team_id")
        return instance

    @property
    def epochs(self) -> int:
        return int(self.config.get("epochs", 0))

    @property
    def is_queued(self) -> bool:
        return self.status == Status.QUEUED

    @property
    def test_summary(self) -> dict | None:
        """Test metrics without the per-sample predictions (those are for the results page)."""
        if not self.test_metrics:
            return None
        return {k: v for k, v in self.test_metrics.items() if k not in {"predictions", "confusion_matrix", "per_class"}}

    @property
    def broker_priority(self) -> int:
        return BROKER_PRIORITY[self.priority]

    @property
    def route(self) -> str:
        """The queue its message goes to: `gpu-<class>` when it asked for a GPU class, else `gpu` or `cpu`."""
        return route(self.queue, self.gpu_class)

    @property
    def queue_label(self) -> str:
        """The queue as pages name it: "GPU", "CPU", or "GPU h200" for a GPU class's own queue."""
        return f"{self.get_queue_display()} {self.gpu_class}" if self.gpu_class else self.get_queue_display()

    @staticmethod
    def routes_in_use() -> list[str]:
        """Every queue experiments may wait in: gpu, cpu and the queues of the GPU classes that are
        configured or asked for by a queued or running experiment (what recovery looks through)."""
        asked = Experiment.objects.filter(status__in=[Status.QUEUED, Status.RUNNING]).exclude(gpu_class="")
        classes = set(settings.TRAINYARD_GPU_CLASSES) | set(asked.values_list("gpu_class", flat=True).distinct())
        return [*TRAINING_QUEUES, *(class_queue(c) for c in sorted(classes))]

    @staticmethod
    def queue_positions() -> dict[int, int]:
        """{experiment id: position} of every queued experiment, 1 being the next to start on its queue
        (a GPU class's queue is its own): priority first, then the time it was queued (the order the
        broker serves them in)."""
        queued = Experiment.objects.filter(status=Status.QUEUED).order_by()
        rows = queued.values_list("pk", "queue", "gpu_class", "priority", "queued_at", "created_at")  # tuples
        positions, taken = {}, {}
        for pk, queue, gpu_class, _, _, _ in sorted(rows, key=lambda r: (PRIORITY_RANK[r[3]], r[4] or r[5], r[0])):
            key = route(queue, gpu_class)
            taken[key] = taken.get(key, 0) + 1
            positions[pk] = taken[key]
        return positions

    def queue_position(self) -> int | None:
        return Experiment.queue_positions().get(self.pk) if self.is_queued else None

    def claim(self, worker: str, holder: str) -> bool:
        """Atomically take the run with a lease for `holder`: a queued one, or a running one whose lease
        expired (its worker was lost; counts as a restart). False when someone else holds it (a duplicate
        or redelivered message), it was cancelled, or it used up its restarts (the reaper fails it)."""
        now = timezone.now()
        taken = {"worker": worker, "lease_holder": holder, "lease_expires_at": leases.lease_until(), "error": ""}
        rows = Experiment.objects.filter(pk=self.pk, cancel_requested=False)
        claimed = rows.filter(status=Status.QUEUED).update(
            status=Status.RUNNING, started_at=now, finished_at=None, **taken
        ) or rows.filter(
            status=Status.RUNNING, lease_expires_at__lt=now, restarts__lt=settings.TRAINYARD_MAX_RESTARTS
        ).update(restarts=F("restarts") + 1, **taken)
        if claimed:
            self.refresh_from_db()
        return bool(claimed)

    def release(self) -> bool:
        """Back to the queue from the worker holding it (a warm shutdown), unless a user asked to cancel."""
        released = Experiment.objects.filter(
            pk=self.pk, status=Status.RUNNING, lease_holder=self.lease_holder, cancel_requested=False
        ).update(status=Status.QUEUED, queued_at=timezone.now(), lease_holder="", lease_expires_at=None)
        self.refresh_from_db()
        return bool(released)

    def claim_within_team_cap(self, worker: str, holder: str, cap: int) -> bool | None:
        """`claim`, unless `cap` (> 0) experiments of the team run already: then None, and it stays queued.
        The team's row is locked meanwhile, so two workers cannot both take the last free place."""
        if not cap:
            return self.claim(worker, holder)
        with transaction.atomic():
            list(Team.objects.select_for_update().filter(pk=self.team_id))
            running = Experiment.objects.filter(team_id=self.team_id, status=Status.RUNNING).exclude(pk=self.pk)
            if running.count() >= cap:
                return None
            return self.claim(worker, holder)

    def finish(self, status: str, error: str = "", test_metrics: dict | None = None, **fields) -> None:
        self.status, self.error, self.finished_at = status, hide_paths(error), timezone.now()
        self.cancel_requested = False
        self.lease_holder, self.lease_expires_at = "", None
        self.test_metrics = test_metrics if test_metrics is not None else self.test_metrics
        for name, value in fields.items():
            setattr(self, name, value)
        self.save(
            update_fields=[
                *("status", "error", "finished_at", "test_metrics", "cancel_requested"),
                *("lease_holder", "lease_expires_at", *fields),
            ]
        )

    def request_cancel(self) -> CancelOutcome:
        """A queued experiment is cancelled at once (it never starts); a running one stops at its next batch."""
        now = timezone.now()
        if Experiment.objects.filter(pk=self.pk, status=Status.QUEUED).update(
            status=Status.CANCELLED, finished_at=now, cancel_requested=False
        ):
            outcome = CancelOutcome.CANCELLED
        elif Experiment.objects.filter(pk=self.pk, status=Status.RUNNING).update(cancel_requested=True):
            outcome = CancelOutcome.STOPPING
        else:
            outcome = CancelOutcome.FINISHED
        self.refresh_from_db()
        return outcome

    def requeue(self, extra_epochs: int = 0) -> bool:
        """Back to the queue: resume a RESUMABLE run, or extend an EXTENDABLE one by `extra_epochs`.

        The worker continues from the last checkpoint. False when the experiment is not in a state
        that allows it (it changed meanwhile)."""
        rows = Experiment.objects.filter(pk=self.pk)
        if extra_epochs:  # only a finished run with a checkpoint to continue from
            rows = rows.filter(status__in=EXTENDABLE, checkpoint_epoch__isnull=False)
        else:
            rows = rows.filter(status__in=RESUMABLE)
        updates = {
            "status": Status.QUEUED,
            "queued_at": timezone.now(),
            "finished_at": None,
            "error": "",
            "cancel_requested": False,
            "stop_reason": "",
            "restarts": 0,
        }
        if extra_epochs:
            updates["config"] = {**self.config, "epochs": self.epochs + extra_epochs}
        changed = rows.update(**updates)
        self.refresh_from_db()
        return bool(changed)

    def notes_html(self) -> str:
        return render_markdown(self.notes)

    def tag_names(self) -> list[str]:
        return [tag.name for tag in self.tags.all()]

    def set_tags(self, names: list[str]) -> None:
        """Label it with these tags of its team (made as needed), and no others."""
        tags = [Tag.objects.get_or_create(team_id=self.team_id, name=name)[0] for name in names]
        self.tags.set(tags)

    def append_log(self, line: str) -> str:
        """Add a time-stamped line to the log; return it as stored."""
        stamped = f"{timezone.now():%H:%M:%S} {hide_paths(line)}"
        Experiment.objects.filter(pk=self.pk).update(log=Concat(F("log"), Value(stamped + "\n")))
        return stamped

    def log_tail(self, lines: int = 200) -> list[str]:
        return self.log.splitlines()[-lines:]

    def history(self, after_epoch: int = 0) -> list[dict]:
        """The recorded epochs after `after_epoch`, in order, as EpochMetric dictionaries."""
        return [row.to_dict() for row in self.epoch_metrics.filter(epoch__gt=after_epoch).order_by("epoch")]

    def optimizer_steps(self) -> dict | None:
        """Its length in optimizer steps on its dataset's training split (`training.steps.steps_info`);
        None while the dataset's split is not known."""
        num_train = sum(self.dataset.split_counts.get("train", {}).values())
        if not num_train or "batch_size" not in self.config or "epochs" not in self.config:
            return None
        return steps_info(num_train, self.config["batch_size"], self.config["epochs"])

    # --- as JSON: one dictionary for the API, the websockets and the pages ---------------------------
    def summary_dict(self, positions: dict[int, int] | None = None) -> dict:
        """Its state: what lists show and what the live page follows (status messages carry exactly this).
        `positions`: Experiment.queue_positions() when serializing many (computed once for all)."""
        position = positions.get(self.pk) if positions is not None else self.queue_position()
        return {
            "id": self.pk,
            "name": self.name,
            "url": self.get_absolute_url(),
            "status": self.status,
            "status_label": self.get_status_display(),
            "queue": self.queue,
            "gpu_class": self.gpu_class,
            "priority": self.priority,
            "queue_position": position,
            "epochs": self.epochs,
            "checkpoint_epoch": self.checkpoint_epoch,
            "best_epoch": self.best_epoch,
            "stop_reason": self.stop_reason,
            "cancel_requested": self.cancel_requested,
            "error": self.error,
            "test_metrics": self.test_summary,
            "queued_at": iso(self.queued_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
        }

    def to_dict(self, positions: dict[int, int] | None = None) -> dict:
        """Everything about it: its state (`summary_dict`) and what it is (config, data, owner, origin)."""
        return {
            **self.summary_dict(positions),
            "description": self.description,
            "team": self.team_id,
            "dataset": self.dataset_id,
            "dataset_name": self.dataset.name,
            "owner": self.owner.get_username(),
            "tags": self.tag_names(),
            "notes": self.notes,
            "notes_html": self.notes_html(),
            "pinned": self.pinned,
            "presets": self.presets,
            "config": self.config,
            "steps": self.optimizer_steps(),
            "cloned_from": self.cloned_from_id,
            "init_from": self.init_from_id,
            "created_at": iso(self.created_at),
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


@receiver(post_delete, sender=Experiment)
def _delete_files(sender, instance: Experiment, **kwargs) -> None:
    # After the commit: a rolled-back delete must not have removed the files.
    experiment_id = instance.pk
    transaction.on_commit(lambda: files.delete_files(experiment_id))
