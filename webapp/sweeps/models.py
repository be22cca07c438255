"""Sweeps: a search over configs whose trials are ordinary experiments. The database is the source of
truth: every decision rebuilds the search state from these rows (see `driver`)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse

from training import TrainConfig
from training.search import Budget, Objective, PrunerSpec, SearchSpace, TrialRecord, TrialState
from webapp.core.serialize import iso
from webapp.datasets.models import Dataset
from webapp.experiments.models import EpochMetric, Experiment, Priority
from webapp.experiments.states import Status as ExperimentStatus
from webapp.teams.models import Team


class Method(models.TextChoices):
    GRID = "grid", "Grid (every combination once)"
    RANDOM = "random", "Random (seeded)"
    TPE = "tpe", "TPE (Bayesian)"


class ObjectiveChoice(models.TextChoices):
    VAL_ACC = "val_acc", "Validation accuracy (maximize)"
    VAL_LOSS = "val_loss", "Validation loss (minimize)"


class Pruner(models.TextChoices):
    ASHA = "asha", "Successive halving (ASHA)"
    HYPERBAND = "hyperband", "Hyperband"
    MEDIAN = "median", "Median rule"
    NONE = "none", "None: every trial runs to its end"


class SweepStatus(models.TextChoices):
    RUNNING = "running", "Running"
    STOPPED = "stopped", "Stopped"
    FINISHED = "finished", "Finished"


# An experiment's status -> its trial's state for the search library.
TRIAL_STATE = {
    ExperimentStatus.QUEUED: TrialState.QUEUED,
    ExperimentStatus.RUNNING: TrialState.RUNNING,
    ExperimentStatus.SUCCEEDED: TrialState.COMPLETED,
    ExperimentStatus.STOPPED_EARLY: TrialState.COMPLETED,
    ExperimentStatus.PRUNED: TrialState.PRUNED,
    ExperimentStatus.FAILED: TrialState.FAILED,
    ExperimentStatus.CANCELLED: TrialState.CANCELLED,
}


class Sweep(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="sweeps")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sweeps")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="sweeps")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    config = models.JSONField(help_text="the base config (resolved), before each trial's parameters")
    presets = models.JSONField(default=list, blank=True)
    space = models.JSONField(help_text="the search space, in training.search's JSON format")
    method = models.CharField(max_length=8, choices=Method.choices, default=Method.TPE)
    objective = models.CharField(max_length=8, choices=ObjectiveChoice.choices, default=ObjectiveChoice.VAL_ACC)
    max_trials = models.PositiveIntegerField()
    max_epochs = models.PositiveIntegerField(null=True, blank=True, help_text="epochs of all trials together")
    max_hours = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.001)],
        help_text="hours of training of all trials added up (their epochs' run time, not the wall clock)",
    )
    parallelism = models.PositiveIntegerField(default=1, help_text="trials queued or running at once")
    seed = models.IntegerField(default=0)
    pruner = models.CharField(max_length=10, choices=Pruner.choices, default=Pruner.ASHA)
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    # Its trials run only on workers of this GPU class (queue gpu-<class>); empty: any GPU.
    gpu_class = models.CharField(max_length=32, blank=True, default="", help_text="empty: any GPU")
    status = models.CharField(max_length=10, choices=SweepStatus.choices, default=SweepStatus.RUNNING)
    space_history = models.JSONField(
        default=list, blank=True, help_text="each widening of the space: when, by whom, after how many trials, what"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"sweep #{self.pk} {self.name}"

    def get_absolute_url(self) -> str:
        return reverse("sweep_detail", args=[self.pk])

    # --- the search library's view of it -------------------------------------------------------------
    @property
    def search_space(self) -> SearchSpace:
        return SearchSpace.parse(self.space)

    @property
    def base_config(self) -> TrainConfig:
        return TrainConfig.from_dict(self.config)

    @property
    def goal(self) -> Objective:
        return Objective(self.objective)

    @property
    def budget(self) -> Budget:
        return Budget(self.max_trials, self.max_epochs, self.max_hours)

    def pruner_spec(self) -> PrunerSpec:
        return PrunerSpec(self.pruner, max_epochs=int(self.search_space.largest("epochs", self.base_config)))

    def trial_rows(self):
        return self.trials.select_related("experiment").order_by("number")

    def records(self, exclude: int | None = None) -> list[TrialRecord]:
        """Every trial as the search library knows it, rebuilt from the experiments and their epochs."""
        trials = [t for t in self.trial_rows() if t.number != exclude]
        metrics = EpochMetric.objects.filter(experiment__trial__sweep=self).values_list(
            "experiment_id", "epoch", self.objective, "seconds"
        )
        values: dict[int, dict[int, float]] = {}
        seconds: dict[int, float] = {}
        for experiment_id, epoch, value, took in metrics:
            if value is not None:
                values.setdefault(experiment_id, {})[epoch] = value
            seconds[experiment_id] = seconds.get(experiment_id, 0.0) + took
        return [t.record(values.get(t.experiment_id, {}), seconds.get(t.experiment_id, 0.0)) for t in trials]

    def budget_used(self, records: list[TrialRecord] | None = None) -> dict:
        """What the trials used of the budget (running ones up to their last epoch); `text` for the page."""
        from webapp.sweeps.estimate import duration

        records = self.records() if records is None else records
        trials, epochs = len(records), sum(r.epochs_run for r in records)
        seconds = sum(r.seconds for r in records)
        parts = [
            f"{trials} of {self.max_trials} trials",
            f"{epochs} of {self.max_epochs} epochs" if self.max_epochs else f"{epochs} epochs",
            f"{duration(seconds)} of {duration(self.max_hours * 3600)} of training"
            if self.max_hours
            else f"{duration(seconds)} of training",
        ]
        return {"trials": trials, "epochs": epochs, "hours": seconds / 3600, "text": " · ".join(parts)}

    def summary_dict(self) -> dict:
        return {
            "id": self.pk,
            "name": self.name,
            "url": self.get_absolute_url(),
            "status": self.status,
            "status_label": self.get_status_display(),
            "method": self.method,
            "objective": self.objective,
            "pruner": self.pruner,
            "max_trials": self.max_trials,
            "max_epochs": self.max_epochs,
            "max_hours": self.max_hours,
            "parallelism": self.parallelism,
            "trials": self.trials.count(),
            "created_at": iso(self.created_at),
            "finished_at": iso(self.finished_at),
        }

    def to_dict(self) -> dict:
        return {
            **self.summary_dict(),
            "description": self.description,
            "team": self.team_id,
            "dataset": self.dataset_id,
            "owner": self.owner.get_username(),
            "config": self.config,
            "presets": self.presets,
            "space": self.space,
            "space_history": self.space_history,
            "seed": self.seed,
            "priority": self.priority,
            "gpu_class": self.gpu_class,
        }


class Trial(models.Model):
    """One point of a sweep, run as an ordinary experiment (this side holds the link)."""

    sweep = models.ForeignKey(Sweep, on_delete=models.CASCADE, related_name="trials")
    number = models.PositiveIntegerField()
    params = models.JSONField()
    experiment = models.OneToOneField(Experiment, on_delete=models.CASCADE, related_name="trial")

    class Meta:
        ordering = ["sweep", "number"]
        constraints = [models.UniqueConstraint(fields=["sweep", "number"], name="one_trial_per_number")]

    def __str__(self) -> str:
        return f"{self.sweep} trial {self.number}"

    def record(self, values: dict[int, float], seconds: float = 0.0) -> TrialRecord:
        experiment = self.experiment
        state = TRIAL_STATE[experiment.status]
        value = None
        if values and state == TrialState.COMPLETED:
            restored = experiment.config.get("restore_best_weights") and experiment.best_epoch in values
            value = values[experiment.best_epoch] if restored else values[max(values)]
        elif values and state == TrialState.PRUNED:
            value = values[max(values)]
        return TrialRecord(self.number, dict(self.params), state, value, dict(values), seconds)

    def to_dict(self, record: TrialRecord | None = None) -> dict:
        experiment = self.experiment
        record = record or self.record({})
        return {
            "number": self.number,
            "params": self.params,
            "experiment": experiment.summary_dict(positions={}),
            "state": str(record.state),
            "value": record.value,
            "epochs_run": record.epochs_run,
            "seconds": round(record.seconds, 2),
            "values": {str(k): v for k, v in sorted(record.values.items())},
        }
