"""Which parameters mattered: Optuna's fANOVA on the completed trials, for the sweep page.

fANOVA (a random forest's variance decomposition) ranks parameters sensibly from a handful of trials;
PED-ANOVA, the other evaluator Optuna offers, compares the top 10% of trials with the rest and misranks
parameters until there are dozens. Parameters that only some completed trials have (conditional ones)
are left out, as Optuna does.
"""

from __future__ import annotations

from collections.abc import Sequence

import optuna

from training.search.records import Objective, TrialRecord, TrialState, build_study
from training.search.space import SearchSpace

MIN_TRIALS = 4  # completed trials needed before importances mean anything


def param_importance(space: SearchSpace, objective: Objective, trials: Sequence[TrialRecord]) -> dict[str, float]:
    """{parameter: share of the objective's variance it explains}, summing to 1, most important first.

    Empty when fewer than MIN_TRIALS trials completed, or when neither a parameter nor the objective varied."""
    done = [t for t in trials if t.state == TrialState.COMPLETED and t.value is not None]
    if len(done) < MIN_TRIALS or len({t.value for t in done}) < 2:
        return {}
    study = build_study(space, objective, done)
    varying = [name for name in space.names if len({repr(t.params.get(name)) for t in done if name in t.params}) > 1]
    present = [name for name in varying if all(name in space.known(t.params) for t in done)]
    if not present:
        return {}
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    found = optuna.importance.get_param_importances(study, evaluator=evaluator, params=present)
    return {name: float(value) for name, value in found.items()}
