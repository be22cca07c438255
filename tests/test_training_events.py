"""The loop reports what happens as facts (events with fields); the callbacks word the log. A callback
that ignores events still gets each one's standard line through `on_log`."""

from __future__ import annotations

from tests.images import write_pattern_folder
from tests.training_helpers import TINY, Recorder
from training import TrainConfig, fit, load_image_folder
from training.callbacks import BestRestored, DataReady, Event, Resumed, StoppedEarly


class Events(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)
        super().on_event(event)  # the default: the event's line to on_log


def test_events_carry_facts_and_their_lines_reach_the_log(tmp_path):
    data = load_image_folder(write_pattern_folder(tmp_path / "data", classes=3, per_class=10))
    # No epoch can beat the first by 1e6: early stopping after epoch 2, and epoch 1's weights restored.
    config = TrainConfig.from_dict({**TINY, "epochs": 5, "early_stopping": True, "patience": 1, "min_delta": 1e6})
    events = Events()
    result = fit(config, data, [events], checkpoint_dir=tmp_path / "run")

    assert [type(e) for e in events.events] == [DataReady, StoppedEarly, BestRestored]
    ready, stopped, restored = events.events
    assert (ready.path, ready.image_size, ready.augmentation) == ("memory", 16, "none")
    assert ready.normalization == "statistics of the training split"
    assert stopped.epoch == 2 and stopped.reason == result.stop_reason
    assert events.early_stops == [(2, result.stop_reason)]
    assert (restored.epoch, restored.monitor) == (1, "val_loss") and result.restored_best
    assert [e.describe() for e in events.events] == events.logs
    assert events.logs[-1] == f"restored the weights of epoch 1 (val_loss {restored.value:.4f})"

    resumed = Events()
    fit(
        config.replace(epochs=6),
        data,
        [resumed],
        checkpoint_dir=tmp_path / "run",
        resume_from=tmp_path / "run" / "last.pt",
    )
    assert resumed.events[1] == Resumed(str(tmp_path / "run" / "last.pt"), 2, 6, extending=True)
    assert resumed.logs[1] == f"extending from {tmp_path / 'run' / 'last.pt'} after epoch 2 (to epoch 6)"


def test_a_callback_that_handles_events_itself_keeps_them_out_of_its_log(tmp_path):
    class Quiet(Recorder):
        def on_event(self, event: Event) -> None:
            pass

    quiet = Quiet()
    fit(
        TrainConfig.from_dict(TINY), load_image_folder(write_pattern_folder(tmp_path, classes=2, per_class=10)), [quiet]
    )
    assert not any(line.startswith("data:") for line in quiet.logs) and quiet.result is not None
