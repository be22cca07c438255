"""Comparing 2 to 10 experiments: `?ids=1,2,3` parsed by a form, and what the compare page draws
(curves, the config keys that differ, a metrics table, the confusion matrices). Two queries in all."""

from __future__ import annotations

import json
from collections import defaultdict

from django import forms

from webapp.experiments.access import experiments_for
from webapp.experiments.models import EpochMetric, Experiment

MIN_COMPARED, MAX_COMPARED = 2, 10
METRICS = (  # (key in the row, label, format)
    ("test_accuracy", "Test accuracy", "percent"),
    ("macro_f1", "Test macro F1", "number"),
    ("test_loss", "Test loss", "number"),
    ("top5_accuracy", "Test top-5 accuracy", "percent"),
    ("best_val_acc", "Best val accuracy", "percent"),
    ("best_epoch", "Best epoch", "integer"),
    ("epochs_run", "Epochs run", "integer"),
    ("seconds", "Training time (s)", "number"),
)


class CompareForm(forms.Form):
    """ids: "1,2,3" (or the parameter repeated, as checkboxes send it); cleaned: the distinct numbers, sorted."""

    ids = forms.CharField(required=False)

    def __init__(self, query) -> None:
        super().__init__({"ids": ",".join(query.getlist("ids"))})

    def clean_ids(self) -> list[int]:
        parts = [p.strip() for p in self.cleaned_data["ids"].split(",") if p.strip()]
        if not all(p.isdigit() for p in parts):
            raise forms.ValidationError("ids must be experiment numbers separated by commas, e.g. ?ids=3,7,12.")
        ids = sorted({int(p) for p in parts})  # one address per set of experiments, whatever the order asked
        if not MIN_COMPARED <= len(ids) <= MAX_COMPARED:
            raise forms.ValidationError(
                f"Choose between {MIN_COMPARED} and {MAX_COMPARED} different experiments; {len(ids)} given."
            )
        return ids


def _row(experiment: Experiment, history: list[dict]) -> dict:
    test = experiment.test_metrics or {}
    val = [h["val_acc"] for h in history if h["val_acc"] is not None]
    return {
        "id": experiment.pk,
        "name": experiment.name,
        "url": experiment.get_absolute_url(),
        "status": experiment.status,
        "status_label": experiment.get_status_display(),
        "dataset": str(experiment.dataset),
        "history": history,
        "classes": test.get("classes") or experiment.dataset.classes,
        "confusion_matrix": test.get("confusion_matrix"),
        "metrics": {
            "test_accuracy": test.get("accuracy"),
            "macro_f1": test.get("macro_f1"),
            "test_loss": test.get("loss"),
            "top5_accuracy": test.get("top5_accuracy"),
            "best_val_acc": max(val) if val else None,
            "best_epoch": experiment.best_epoch,
            "epochs_run": len(history),
            "seconds": round(sum(h["seconds"] for h in history), 1) if history else None,
        },
    }


def config_rows(experiments: list[Experiment]) -> list[dict]:
    """[{key, values (one per experiment, as text), differs}] over every config key any of them has."""
    keys = sorted({k for e in experiments for k in e.config})
    rows = []
    for key in keys:
        values = [json.dumps(e.config.get(key)) if key in e.config else "–" for e in experiments]
        rows.append({"key": key, "values": values, "differs": len(set(values)) > 1})
    return rows


def comparison(user, ids: list[int]) -> dict | None:
    """What the page shows, in the order asked; None when one of them is not visible to `user`."""
    found = {e.pk: e for e in experiments_for(user).filter(pk__in=ids)}
    if len(found) != len(ids):
        return None
    experiments = [found[pk] for pk in ids]
    histories: dict[int, list[dict]] = defaultdict(list)
    for row in EpochMetric.objects.filter(experiment_id__in=ids).order_by("experiment_id", "epoch"):
        histories[row.experiment_id].append(row.to_dict())
    return {
        "experiments": experiments,
        "rows": [_row(e, histories[e.pk]) for e in experiments],
        "config": config_rows(experiments),
        "metrics": METRICS,
    }


def candidates(user, experiment: Experiment, limit: int = 30) -> list[Experiment]:
    """Other experiments to compare this one with: the same dataset's first, then the newest."""
    others = experiments_for(user).exclude(pk=experiment.pk)
    same = list(others.filter(dataset_id=experiment.dataset_id)[:limit])
    return same + list(others.exclude(dataset_id=experiment.dataset_id)[: limit - len(same)])
