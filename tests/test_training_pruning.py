"""Pruning: a callback that judges a run weak after an epoch ends it as pruned, with its checkpoint kept."""

from __future__ import annotations

from pathlib import Path

from tests.images import write_pattern_folder
from tests.training_helpers import TINY, Recorder
from training import EpochMetrics, Outcome, TrainConfig, fit, load_image_folder
from training.engine import CHECKPOINT_NAME, MODEL_NAME


class PruneAfter(Recorder):
    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.prune_epoch = epoch
        self.asked: list[int] = []

    def prune_reason(self, metrics: EpochMetrics) -> str | None:
        self.asked.append(metrics.epoch)
        return "weak trial" if metrics.epoch >= self.prune_epoch else None


def test_a_pruned_run_stops_after_that_epoch_and_keeps_its_checkpoint(tmp_path: Path):
    data = load_image_folder(write_pattern_folder(tmp_path / "data", per_class=8), 0.25, 0.25)
    judge = PruneAfter(epoch=2)
    result = fit(TrainConfig.from_dict({**TINY, "epochs": 4}), data, [judge], checkpoint_dir=tmp_path / "run")

    assert result.status == Outcome.PRUNED
    assert result.epochs_run == 2 and [m.epoch for m in result.history] == [1, 2]
    assert result.stop_reason == "weak trial"
    assert judge.asked == [1, 2]
    assert judge.checkpoints[-1][1] == 2 and (tmp_path / "run" / CHECKPOINT_NAME).exists()
    assert result.test is None and not (tmp_path / "run" / MODEL_NAME).exists()
    assert any("pruned after epoch 2: weak trial" in line for line in judge.logs)


def test_the_last_epoch_is_never_pruned(tmp_path: Path):
    data = load_image_folder(write_pattern_folder(tmp_path / "data", per_class=8), 0.25, 0.25)
    result = fit(TrainConfig.from_dict({**TINY, "epochs": 2}), data, [PruneAfter(epoch=2)])
    assert result.status == Outcome.COMPLETED and result.test is not None
