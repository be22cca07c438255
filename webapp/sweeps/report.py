"""A sweep with its trials, the best one and what the charts need: one dictionary for the API and the page."""

from __future__ import annotations

import json

from django.core.cache import cache

from training.search import TrialRecord, TrialState, best_trial, param_importance, ranked, rungs
from webapp.sweeps.models import Sweep

MAX_CURVES = 300  # validation curves drawn: the best ones (pruned trials stop early and add few points)
MAX_IMPORTANCE_TRIALS = 100  # fANOVA takes seconds per hundred trials: an even sample of the completed ones


def sweep_report(sweep: Sweep) -> dict:
    records = sweep.records()
    rows = {t.number: t for t in sweep.trial_rows()}
    order = [r.number for r in ranked(sweep.goal, records)]
    best = best_trial(sweep.goal, records)
    trials = [rows[r.number].to_dict(r) for r in records]
    for trial in trials:
        trial["rank"] = order.index(trial["number"]) + 1
        trial["curve"] = trial["rank"] <= MAX_CURVES
    importance = importance_of(sweep, records)
    best_row = rows[best.number] if best else None
    return {
        **sweep.to_dict(),
        "direction": str(sweep.goal.direction),
        "space_lines": sweep.search_space.describe(),
        "rungs": rungs(sweep.pruner_spec()),
        "budget_used": sweep.budget_used(records),
        "trials": trials,
        "best": best_row.to_dict(best) | {"test_metrics": best_row.experiment.test_summary} if best_row else None,
        "importance": importance,
    }


def importance_of(sweep: Sweep, records: list[TrialRecord]) -> dict[str, float]:
    """Parameter importance (fANOVA) on at most MAX_IMPORTANCE_TRIALS completed trials, spread evenly over
    the sweep; computed once per number of completed trials (and space) in this process, then cached."""
    done = [r for r in records if r.state == TrialState.COMPLETED and r.value is not None]
    step = max(1, -(-len(done) // MAX_IMPORTANCE_TRIALS))
    sample = done[::step]
    key = f"sweep-importance:{sweep.pk}:{len(done)}:{hash(json.dumps(sweep.space, sort_keys=True))}"
    found = cache.get(key)
    if found is None:
        try:
            found = param_importance(sweep.search_space, sweep.goal, sample)
        except (ValueError, RuntimeError):  # fANOVA cannot fit (e.g. one distinct value per parameter)
            found = {}
        cache.set(key, found, 24 * 3600)
    return found
