"""A sweep with its trials, the best one and what the charts need: one dictionary for the API and the page."""

from __future__ import annotations

from training.search import best_trial, param_importance, ranked, rungs
from webapp.sweeps.models import Sweep

MAX_CURVES = 300  # validation curves drawn: the best ones (pruned trials stop early and add few points)


def sweep_report(sweep: Sweep) -> dict:
    records = sweep.records()
    rows = {t.number: t for t in sweep.trial_rows()}
    order = [r.number for r in ranked(sweep.goal, records)]
    best = best_trial(sweep.goal, records)
    trials = [rows[r.number].to_dict(r) for r in records]
    for trial in trials:
        trial["rank"] = order.index(trial["number"]) + 1
        trial["curve"] = trial["rank"] <= MAX_CURVES
    try:
        importance = param_importance(sweep.search_space, sweep.goal, records)
    except (ValueError, RuntimeError):  # fANOVA cannot fit (e.g. one distinct value per parameter)
        importance = {}
    best_row = rows[best.number] if best else None
    return {
        **sweep.to_dict(),
        "direction": str(sweep.goal.direction),
        "space_lines": sweep.search_space.describe(),
        "rungs": rungs(sweep.pruner_spec()),
        "trials": trials,
        "best": best_row.to_dict(best) | {"test_metrics": best_row.experiment.test_summary} if best_row else None,
        "importance": importance,
    }
