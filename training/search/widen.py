"""Widening a sweep's search space after it ran: wider ranges, more values, looser conditions.

The new space must hold every point the old one could draw, so the trials so far stay points of it:
the grid skips them (each point still runs once) and TPE keeps learning from them, because every
decision rebuilds its study from the records under the current distributions (`records.build_study`).

    new = widen_space(sweep_space_json, {"lr": {"low": 1e-5}, "optimizer": ["sgd", "adamw", "adam"]})
    # SpaceError({"lr": "..."}) when a change would leave out something the old space could draw
    describe_changes(old, new)  # ["lr: 0.0001 to 0.1 (log) -> 1e-05 to 0.1 (log)", ...]

A change names a parameter of the space and gives either a list (its new values) or an object whose
keys replace the current ones ("low", "high", "values", "log", "step", "when"); parameters not named
stay as they are. Turning a list of values into a range that holds them all is a widening too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from training.search.space import Choice, FloatRange, IntRange, Param, SearchSpace, SpaceError, _same, _show

MAX_LISTED = 1000  # an int range turned into a list: at most this many old values are checked one by one
RANGE_KEYS = {"low", "high", "log", "step"}


def merge_changes(current: Mapping[str, Any], changes: Any) -> dict[str, Any]:
    """The space's JSON after `changes` (see the module's notes); SpaceError naming each bad entry."""
    if not isinstance(changes, Mapping) or not changes:
        raise SpaceError(
            {"__all__": 'name the parameters to widen, e.g. {"lr": {"low": 0.00001}} or {"optimizer": ["sgd", "adam"]}'}
        )
    merged = {name: dict(spec) for name, spec in current.items()}
    errors: dict[str, str] = {}
    for name, given in changes.items():
        if name not in merged:
            errors[str(name)] = (
                f"not a parameter of this sweep (it has {', '.join(merged)}); "
                "widening keeps the parameters and changes their ranges or values"
            )
        elif isinstance(given, (list, tuple)):
            merged[name] = _replaced(merged[name], {"values": list(given)})
        elif isinstance(given, Mapping):
            merged[name] = _merged(merged[name], dict(given))
        else:
            errors[str(name)] = 'give a list of values or an object such as {"low": 0.0001, "high": 0.1}'
    if errors:
        raise SpaceError(errors)
    return merged


def _merged(current: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    was_list = current.get("type") == "choice"
    to_list = "values" in given and not (RANGE_KEYS & set(given))
    to_range = bool(RANGE_KEYS & set(given)) and "values" not in given
    if "type" in given or (was_list and to_range) or (not was_list and to_list):
        return _replaced(current, given)  # another kind of parameter: the old one's keys do not apply
    return {**current, **given}


def _replaced(current: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    kept = {"when": current["when"]} if "when" in current and "when" not in given else {}
    return {**kept, **given}


def covers(new: Param, old: Param) -> str | None:
    """None when every value `old` can take, `new` can take too (under no narrower condition); else why not."""
    reason = _values_covered(new, old)
    if reason is None:
        reason = _conditions_covered(new, old)
    return reason


def _values_covered(new: Param, old: Param) -> str | None:
    if isinstance(old, Choice):
        missing = [v for v in old.values if not new.contains(v)]
        return f"leaves out {', '.join(map(_show, missing))}, which the sweep could take before" if missing else None
    if isinstance(old, FloatRange):
        if not isinstance(new, FloatRange):
            return f"the old range {old.describe()} can only be widened to a float range that holds it"
        return None if new.low <= old.low and new.high >= old.high else _narrower(new, old)
    assert isinstance(old, IntRange)
    if isinstance(new, IntRange):
        if new.low > old.low or new.high < old.high:
            return _narrower(new, old)
        if old.step % new.step or (old.low - new.low) % new.step:
            return f"step {new.step} from {new.low} skips values of the old range {old.describe()}"
        return None
    if isinstance(new, Choice) and (old.high - old.low) // old.step < MAX_LISTED:
        missing = [v for v in range(old.low, old.high + 1, old.step) if not new.contains(v)]
        return f"leaves out {', '.join(map(_show, missing[:5]))} of the old range {old.describe()}" if missing else None
    return f"the old range {old.describe()} can only be widened to a range (or a list) that holds it"


def _narrower(new: Param, old: Param) -> str:
    return f"{new.describe()} does not hold the old range {old.describe()}; a sweep's range can only be widened"


def _conditions_covered(new: Param, old: Param) -> str | None:
    for parent, values in new.when.items():
        if parent not in old.when:
            return f"would now apply only when {parent} is {' or '.join(map(_show, values))}, a narrower condition"
        dropped = [v for v in old.when[parent] if not any(_same(v, w) for w in values)]
        if dropped:
            return f"its condition on {parent} leaves out {', '.join(map(_show, dropped))}"
    return None


def check_widens(old: SearchSpace, new: SearchSpace) -> None:
    """SpaceError, by parameter, unless `new` has the same parameters and holds every point of `old`."""
    errors = {name: "a widened space keeps every parameter" for name in old.names if name not in new.names}
    errors |= {name: "a widened space adds no parameter" for name in new.names if name not in old.names}
    for name in old.names:
        if name in new.names and (reason := covers(new[name], old[name])):
            errors[name] = reason
    if not errors and new.to_dict() == old.to_dict():
        errors["__all__"] = "nothing changes: give a parameter a wider range or more values"
    if errors:
        raise SpaceError(errors)


def widen_space(current: Mapping[str, Any], changes: Any) -> SearchSpace:
    """The space `current` (JSON) after `changes`, checked: SpaceError by parameter when it is invalid or
    would leave out a point the old space could draw."""
    old = SearchSpace.parse(current)
    new = SearchSpace.parse(merge_changes(old.to_dict(), changes))
    check_widens(old, new)
    return new


def describe_changes(old: SearchSpace, new: SearchSpace) -> list[str]:
    """One line per changed parameter: 'lr: 0.001 to 0.1 (log) -> 0.0001 to 0.1 (log)'."""
    before = dict(zip(old.names, old.describe(), strict=True))
    after = dict(zip(new.names, new.describe(), strict=True))
    lines = []
    for name in new.names:
        if name in before and new[name].to_dict() != old[name].to_dict():
            lines.append(f"{before[name]} -> {after[name].removeprefix(name + ': ')}")
    return lines
