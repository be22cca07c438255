"""Hyperparameter search: spaces, methods (grid, random, TPE), early termination and importance.

No Django, no stored Optuna state: the caller keeps the trials (`TrialRecord`s) and every call
rebuilds what Optuna needs from them, so the command line and the web workers decide alike.

    space = SearchSpace.parse(json.load(open("space.json")))          # SpaceError names each bad parameter
    check_method(space, "grid")                                          # SpaceError: grid with a float range
    for s in suggest(space, "tpe", seed=0, trials=records, count=2):    # Suggestion(number, params)
        config = apply_point(base_config, s.params)                      # ConfigError: a point that cannot train
    spec = PrunerSpec("asha", max_epochs=space.largest("epochs", base_config))
    reason = should_prune(spec, Objective.VAL_ACC, trial, others, epoch)  # None or a sentence
    new = widen_space(space.to_dict(), {"lr": {"low": 1e-5}})         # SpaceError when it would narrow
    rungs(spec); expected_epochs(spec, trials=20); param_importance(space, Objective.VAL_ACC, records)
"""

from __future__ import annotations

from training.search.importance import param_importance
from training.search.methods import Suggestion, check_method, list_methods, planned_trials, suggest, trial_seed
from training.search.presets import list_space_presets, space_from_preset
from training.search.pruners import (
    PrunerSpec,
    PruneWeakTrials,
    expected_epochs,
    list_pruners,
    rungs,
    should_prune,
)
from training.search.records import (
    Budget,
    Direction,
    Objective,
    TrialRecord,
    TrialState,
    best_trial,
    next_number,
    ranked,
)
from training.search.space import SearchSpace, SpaceError, apply_point, point_key
from training.search.widen import check_widens, describe_changes, widen_space

__all__ = [
    "Budget",
    "Direction",
    "Objective",
    "PruneWeakTrials",
    "PrunerSpec",
    "SearchSpace",
    "SpaceError",
    "Suggestion",
    "TrialRecord",
    "TrialState",
    "apply_point",
    "best_trial",
    "check_method",
    "check_widens",
    "describe_changes",
    "expected_epochs",
    "list_methods",
    "list_pruners",
    "list_space_presets",
    "next_number",
    "param_importance",
    "planned_trials",
    "point_key",
    "ranked",
    "rungs",
    "should_prune",
    "space_from_preset",
    "suggest",
    "trial_seed",
    "widen_space",
]
