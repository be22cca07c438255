"""Long histories for the charts: at most about MAX_POINTS points a line, spikes kept.

Epochs are cut into MAX_POINTS / 2 consecutive buckets; each bucket gives the line its lowest and its
highest point (in epoch order), so a one-epoch spike survives however long the run, and the band
(`low`, `high` at the bucket's middle epoch) draws the min/max envelope under the line. Live epochs
after `until` are appended by the page with Plotly.extendTraces.
"""

from __future__ import annotations

import math
from typing import Any

MAX_POINTS = 1500
LINES = ("train_loss", "val_loss", "train_acc", "val_acc", "lr", "seconds")


def _bucket_points(bucket: list[dict], key: str) -> list[dict]:
    values = [row for row in bucket if row.get(key) is not None]
    if not values:
        return []
    low = min(values, key=lambda row: row[key])
    high = max(values, key=lambda row: row[key])
    return sorted({low["epoch"]: low, high["epoch"]: high}.values(), key=lambda row: row["epoch"])


def downsample(history: list[dict[str, Any]], max_points: int = MAX_POINTS) -> dict[str, Any] | None:
    """Per metric: {"x", "y"} (at most `max_points` points) and {"band_x", "low", "high"}; None when the
    history is short enough to draw whole."""
    if len(history) <= max_points:
        return None
    size = math.ceil(len(history) / (max_points // 2))
    buckets = [history[i : i + size] for i in range(0, len(history), size)]
    lines = {}
    for key in LINES:
        points = [p for bucket in buckets for p in _bucket_points(bucket, key)]
        bands = [(b, [row[key] for row in b if row.get(key) is not None]) for b in buckets]
        bands = [(b, v) for b, v in bands if v]
        lines[key] = {
            "x": [p["epoch"] for p in points],
            "y": [p[key] for p in points],
            "band_x": [b[len(b) // 2]["epoch"] for b, _ in bands],
            "low": [min(v) for _, v in bands],
            "high": [max(v) for _, v in bands],
        }
    return {"until": history[-1]["epoch"], "epochs": len(history), "lines": lines}
