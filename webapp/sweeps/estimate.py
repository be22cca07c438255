"""What a sweep will cost before it starts: expected trials x epochs per trial (after the pruning
schedule) x seconds per epoch, the last from the team's finished runs of the same architecture, image
size and device, per training image (scaled to this dataset's training split)."""

from __future__ import annotations

from training import TrainConfig
from training.search import Budget, PrunerSpec, SearchSpace, expected_epochs, planned_trials
from webapp.datasets.models import Dataset
from webapp.experiments.models import EpochMetric
from webapp.experiments.states import EXTENDABLE

HISTORY_ROWS = 500  # the most recent epochs looked at


def train_images(dataset: Dataset) -> int:
    return sum((dataset.split_counts or {}).get("train", {}).values())


def seconds_per_epoch_image(team_id: int, config: TrainConfig) -> float | None:
    """Mean seconds of one epoch per training image in the team's finished runs like `config`; None without any."""
    rows = (
        EpochMetric.objects.filter(
            experiment__team_id=team_id,
            experiment__status__in=EXTENDABLE,
            experiment__config__arch=config.arch,
            experiment__config__image_size=config.image_size,
            experiment__config__device=config.device,
        )
        .order_by("-recorded_at")
        .values_list("seconds", "experiment__dataset__split_counts")[:HISTORY_ROWS]
    )
    rates = []
    for seconds, counts in rows:
        images = sum((counts or {}).get("train", {}).values())
        if images:
            rates.append(seconds / images)
    return sum(rates) / len(rates) if rates else None


def estimate(
    space: SearchSpace, method: str, budget: Budget, pruner: str, config: TrainConfig, dataset: Dataset
) -> dict:
    """{"trials", "epochs", "seconds" (None: no history yet), "text"}. Raises SpaceError for a bad space."""
    trials = planned_trials(space, method, budget)
    spec = PrunerSpec(pruner, max_epochs=int(space.largest("epochs", config)))
    epochs = expected_epochs(spec, trials)
    if budget.max_epochs is not None:
        epochs = min(epochs, budget.max_epochs)
    rate = seconds_per_epoch_image(dataset.team_id, config)
    what = f"{trials} trials x {epochs / max(trials, 1):.1f} epochs each (after early termination)"
    if rate is None:
        return {
            "trials": trials,
            "epochs": epochs,
            "seconds": None,
            "text": f"{what}: no history yet for "
            f"{config.arch} at {config.image_size}px on {config.device} in this team",
        }
    seconds = epochs * rate * train_images(dataset)
    if budget.max_hours is not None and seconds > budget.max_hours * 3600:
        seconds = budget.max_hours * 3600
        what += f", cut short by the budget of {duration(seconds)}"
    return {
        "trials": trials,
        "epochs": epochs,
        "seconds": seconds,
        "text": f"{what} ≈ {duration(seconds)} of training",
    }


def duration(seconds: float) -> str:
    """A length of time for people: '40 s', '12 min', '1.5 h'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
