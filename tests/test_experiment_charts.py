"""Long histories are drawn downsampled: at most ~1,500 points a line, spikes kept, a min/max band."""

from __future__ import annotations

import pytest

from webapp.experiments.charts import MAX_POINTS, downsample


def history(epochs: int, spike_at: int | None = None) -> list[dict]:
    rows = []
    for e in range(1, epochs + 1):
        loss = 10.0 if e == spike_at else 1 / e
        rows.append(
            {
                "epoch": e,
                "train_loss": loss,
                "val_loss": None if e % 2 else loss,
                "train_acc": 0.5,
                "val_acc": 0.4,
                "lr": 1e-3,
                "seconds": 1.0,
            }
        )
    return rows


def test_a_short_history_is_drawn_whole():
    assert downsample(history(MAX_POINTS)) is None


@pytest.mark.parametrize("epochs", [MAX_POINTS + 1, 10_000, 54_321])
def test_every_line_keeps_at_most_the_limit_and_its_spikes(epochs):
    chart = downsample(history(epochs, spike_at=epochs // 3))
    assert chart["until"] == epochs and chart["epochs"] == epochs
    for key, line in chart["lines"].items():
        assert len(line["x"]) <= MAX_POINTS and len(line["x"]) == len(line["y"]), key
        assert line["x"] == sorted(line["x"]) and len(set(line["x"])) == len(line["x"])
        assert all(lo <= hi for lo, hi in zip(line["low"], line["high"], strict=True))
    train = chart["lines"]["train_loss"]
    assert 10.0 in train["y"] and max(train["high"]) == 10.0  # the one-epoch spike survives
    assert train["x"][0] == 1 and train["y"][0] == 1.0 and min(train["low"]) == pytest.approx(1 / epochs)
    assert all(chart["lines"]["val_loss"]["y"])  # missing values (None) are left out, not drawn as zero


@pytest.mark.django_db
def test_the_metrics_api_sends_the_downsampled_lines_with_a_long_history(client, owner, make_experiment):
    from webapp.experiments.models import EpochMetric

    experiment = make_experiment()
    rows = history(MAX_POINTS + 500)
    EpochMetric.objects.bulk_create(
        EpochMetric(experiment=experiment, images_per_sec=1.0, **{**r, "val_loss": r["val_loss"]}) for r in rows
    )
    client.force_login(owner)
    data = client.get(f"/api/experiments/{experiment.pk}/metrics/").json()
    assert len(data["history"]) == MAX_POINTS + 500
    assert data["chart"]["until"] == MAX_POINTS + 500
    assert len(data["chart"]["lines"]["train_loss"]["x"]) <= MAX_POINTS
