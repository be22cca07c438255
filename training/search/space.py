"""Search spaces: which config options a sweep varies, over which values, and under which conditions.

A space is a JSON-able mapping from config option to a parameter:

    {
      "lr": {"low": 1e-4, "high": 0.1, "log": true},              # float range (log-uniform)
      "batch_size": {"low": 16, "high": 256, "log": true},         # int range (also "step")
      "optimizer": ["sgd", "adamw"],                               # a list of values (categorical)
      "momentum": {"low": 0.8, "high": 0.99, "when": {"optimizer": "sgd"}},
      "nesterov": {"values": [true, false], "when": {"optimizer": ["sgd"]}}
    }

A range's kind follows the option's type ("type": "float" | "int" | "choice" may say it explicitly).
`when` makes a parameter conditional: it applies only when every parameter it names took one of the
given values (and is itself active); elsewhere the base config's value stands. Every value and bound
is checked against the option's own type, bounds and choices; `SpaceError` names the parameter to blame.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from training.config import TrainConfig, coerce_option
from training.registry import Registry

if TYPE_CHECKING:
    import optuna

MAX_GRID_POINTS = 100_000  # a bigger grid is a space for random or tpe
SPEC_KEYS = {"type", "values", "low", "high", "log", "step", "when"}


class SpaceError(ValueError):
    """A search space (or a sweep setting: method, pruner, trials) that cannot work: `errors` maps each
    parameter or setting (or "__all__") to a message, as ConfigError does for config fields."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


@dataclass(frozen=True)
class Param:
    """One config option the search varies. `when` maps parent parameters to the values that activate it."""

    name: str
    when: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    kind: ClassVar[str]

    @classmethod
    def from_spec(cls, parser: _ParamParser, when: dict[str, tuple[Any, ...]]) -> Param:
        """The parameter from its JSON (`parser.spec`); ValueError says what is wrong."""
        raise NotImplementedError

    def distribution(self) -> BaseDistribution:
        raise NotImplementedError

    def suggest(self, trial: optuna.Trial) -> Any:
        raise NotImplementedError

    def contains(self, value: Any) -> bool:
        raise NotImplementedError

    def grid_values(self) -> list[Any]:
        """The values a grid takes; SpaceError when the parameter has no finite list of them."""
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def body(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        out = {"type": self.kind, **self.body()}
        if self.when:
            out["when"] = {parent: list(values) for parent, values in self.when.items()}
        return out


PARAM_KINDS: Registry[type[Param]] = Registry("parameter type")


@PARAM_KINDS.register("choice", "a list of values (categorical; what a grid takes)")
@dataclass(frozen=True)
class Choice(Param):
    values: tuple[Any, ...] = ()
    kind: ClassVar[str] = "choice"

    @classmethod
    def from_spec(cls, parser: _ParamParser, when: dict[str, tuple[Any, ...]]) -> Param:
        raw = parser.spec.get("values")
        if not isinstance(raw, (list, tuple)) or not raw:
            raise ValueError("give at least one value")
        values: list[Any] = []
        for value in raw:
            coerced = parser.value(value, "value")
            if any(_same(coerced, v) for v in values):
                raise ValueError(f"value {_show(coerced)} is listed twice")
            values.append(coerced)
        return cls(parser.name, when, tuple(values))

    def distribution(self) -> BaseDistribution:
        return CategoricalDistribution(self.values)

    def suggest(self, trial: optuna.Trial) -> Any:
        return trial.suggest_categorical(self.name, self.values)

    def contains(self, value: Any) -> bool:
        return any(_same(value, v) for v in self.values)

    def grid_values(self) -> list[Any]:
        return list(self.values)

    def describe(self) -> str:
        return f"one of {', '.join(map(_show, self.values))}"

    def body(self) -> dict[str, Any]:
        return {"values": list(self.values)}


@PARAM_KINDS.register("float", "a float range, uniform or log-uniform")
@dataclass(frozen=True)
class FloatRange(Param):
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    kind: ClassVar[str] = "float"

    @classmethod
    def from_spec(cls, parser: _ParamParser, when: dict[str, tuple[Any, ...]]) -> Param:
        if "step" in parser.spec:
            raise ValueError('a float range takes no "step"; give a list of values instead')
        low, high, log = parser.range_bounds(float)
        return cls(parser.name, when, float(low), float(high), log)

    def distribution(self) -> BaseDistribution:
        return FloatDistribution(self.low, self.high, log=self.log)

    def suggest(self, trial: optuna.Trial) -> Any:
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)

    def contains(self, value: Any) -> bool:
        return _is_number(value) and self.low <= value <= self.high

    def grid_values(self) -> list[Any]:
        raise SpaceError(
            {self.name: 'grid search needs a list of values, not a float range: give "values": [...] instead'}
        )

    def describe(self) -> str:
        return f"{_show(self.low)} to {_show(self.high)}{' (log)' if self.log else ''}"

    def body(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "log": self.log}


@PARAM_KINDS.register("int", "an integer range, optionally log-uniform or stepped")
@dataclass(frozen=True)
class IntRange(Param):
    low: int = 0
    high: int = 1
    log: bool = False
    step: int = 1
    kind: ClassVar[str] = "int"

    @classmethod
    def from_spec(cls, parser: _ParamParser, when: dict[str, tuple[Any, ...]]) -> Param:
        low, high, log = parser.range_bounds(int)
        step = parser.spec.get("step", 1)
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            raise ValueError('"step" must be a whole number of at least 1')
        if log and step != 1:
            raise ValueError("a range is either log or stepped, not both")
        if (high - low) % step:
            raise ValueError(f"high - low ({high - low}) must be a multiple of step ({step})")
        return cls(parser.name, when, low, high, log, step)

    def distribution(self) -> BaseDistribution:
        return IntDistribution(self.low, self.high, log=self.log, step=self.step)

    def suggest(self, trial: optuna.Trial) -> Any:
        return trial.suggest_int(self.name, self.low, self.high, step=self.step, log=self.log)

    def contains(self, value: Any) -> bool:
        return (
            _is_number(value)
            and float(value).is_integer()
            and self.low <= value <= self.high
            and ((int(value) - self.low) % self.step == 0)
        )

    def grid_values(self) -> list[Any]:
        if self.log:
            raise SpaceError({self.name: "grid search needs a list of values or a stepped range, not a log range"})
        return list(range(self.low, self.high + 1, self.step))

    def describe(self) -> str:
        extra = " (log)" if self.log else f" step {self.step}" if self.step != 1 else ""
        return f"{self.low} to {self.high}{extra}"

    def body(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "log": self.log, "step": self.step}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same kind (True is not 1, 1 is 1.0)."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def _show(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, float) else f"{value:g}"


# --- parsing and validation ------------------------------------------------------------------------
class _ParamParser:
    """Turns one parameter's JSON into a Param; ValueError with a message for the user otherwise."""

    def __init__(self, name: str, spec: Any, info: Mapping[str, Any]) -> None:
        self.name = name
        self.spec = {"values": list(spec)} if isinstance(spec, (list, tuple)) else spec
        self.info = info

    def parse(self) -> Param:
        if not isinstance(self.spec, Mapping):
            raise ValueError('give a list of values or an object such as {"low": 0.001, "high": 0.1, "log": true}')
        unknown = sorted(set(self.spec) - SPEC_KEYS)
        if unknown:
            raise ValueError(f"unknown key {', '.join(map(repr, unknown))}; use {', '.join(sorted(SPEC_KEYS))}")
        kind = self.spec.get("type") or self._implied_kind()
        if kind not in PARAM_KINDS:
            raise ValueError(f"unknown type {kind!r}; use one of: {', '.join(PARAM_KINDS.names())}")
        return PARAM_KINDS.get(kind).from_spec(self, self._when())

    def _implied_kind(self) -> str:
        if "values" in self.spec:
            return "choice"
        if self.info["type"] in (int, float):
            return self.info["type"].__name__
        raise ValueError(f"a range needs a numeric option; {self.name} takes a list of values")

    def _when(self) -> dict[str, tuple[Any, ...]]:
        when = self.spec.get("when") or {}
        if not isinstance(when, Mapping):
            raise ValueError('"when" maps parameters to their values, e.g. {"optimizer": ["sgd"]}')
        return {str(k): tuple(v) if isinstance(v, (list, tuple)) else (v,) for k, v in when.items()}

    def value(self, value: Any, what: str) -> Any:
        try:
            return coerce_option(self.name, value)
        except ValueError as exc:
            raise ValueError(f"{what} {_show(value)}: {exc}") from None

    def range_bounds(self, kind: type) -> tuple[Any, Any, bool]:
        if self.info["type"] is not kind:
            raise ValueError(f"{self.name} takes {self.info['type'].__name__} values, not a {kind.__name__} range")
        if "low" not in self.spec or "high" not in self.spec:
            raise ValueError('a range needs "low" and "high"')
        low, high = self.value(self.spec["low"], "low"), self.value(self.spec["high"], "high")
        log = self.spec.get("log", False)
        if not isinstance(log, bool):
            raise ValueError('"log" must be true or false')
        if low >= high:
            raise ValueError(f"low ({_show(low)}) must be below high ({_show(high)})")
        if log and low <= 0:
            raise ValueError(f"a log range needs low above 0 (got {_show(low)})")
        return low, high, log


def _check_conditions(params: Mapping[str, Param], named: set[str]) -> dict[str, str]:
    """Problems with `when`, by parameter (`named`: every parameter in the space, parsed or not)."""
    errors: dict[str, str] = {}
    for param in params.values():
        for parent, values in param.when.items():
            source = params.get(parent)
            if source is None and parent in named:
                continue  # the parent has its own error
            if source is None:
                errors[param.name] = f"condition on {parent!r}, which is not a parameter of this space"
            elif not isinstance(source, Choice):
                errors[param.name] = f"condition on {parent!r}: only a parameter with a list of values can be one"
            elif not values:
                errors[param.name] = f"condition on {parent!r} lists no values"
            else:
                stray = [v for v in values if not source.contains(v)]
                if stray:
                    errors[param.name] = (
                        f"condition value {_show(stray[0])} is never taken by {parent!r} ({source.describe()})"
                    )
    return errors


def _dependency_order(params: Mapping[str, Param]) -> list[str]:
    """Parents before children, otherwise the order given; SpaceError naming a cycle."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = path[path.index(name) :] + [name]
            raise SpaceError({name: f"conditions form a cycle: {' -> '.join(cycle)}"})
        state[name] = "visiting"
        for parent in params[name].when:
            visit(parent, [*path, name])
        state[name] = "done"
        order.append(name)

    for name in params:
        visit(name, [])
    return order


# --- the space -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SearchSpace:
    params: tuple[Param, ...]  # parents before the parameters they condition

    @classmethod
    def parse(cls, spec: Mapping[str, Any]) -> SearchSpace:
        """Validate a JSON-able space; raise SpaceError with one message per bad parameter."""
        if not isinstance(spec, Mapping) or not spec:
            raise SpaceError({"__all__": "a search space maps config options to values or ranges; this one is empty"})
        infos = {info["name"]: info for info in TrainConfig.fields_info()}
        params: dict[str, Param] = {}
        errors: dict[str, str] = {}
        for name, body in spec.items():
            if name not in infos:
                errors[str(name)] = "unknown option; see python -m training --list options"
                continue
            try:
                params[name] = _ParamParser(name, body, infos[name]).parse()
            except ValueError as exc:
                errors[name] = str(exc)
        errors.update(_check_conditions(params, set(map(str, spec))))
        if errors:
            raise SpaceError(errors)
        return cls(tuple(params[name] for name in _dependency_order(params)))

    def to_dict(self) -> dict[str, Any]:
        return {p.name: p.to_dict() for p in self.params}

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def __getitem__(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)

    def is_active(self, param: Param, point: Mapping[str, Any]) -> bool:
        """Whether `param` applies given the values already chosen (parents come first)."""
        return all(
            parent in point and any(_same(point[parent], v) for v in values) for parent, values in param.when.items()
        )

    def sample(self, trial: optuna.Trial) -> dict[str, Any]:
        """A point drawn through an Optuna trial (define-by-run): conditional parameters only where active."""
        point: dict[str, Any] = {}
        for param in self.params:
            if self.is_active(param, point):
                point[param.name] = param.suggest(trial)
        return point

    def known(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The part of a recorded point that this space could have drawn (ranges may have changed since)."""
        out: dict[str, Any] = {}
        for param in self.params:
            if param.name in params and self.is_active(param, out) and param.contains(params[param.name]):
                out[param.name] = params[param.name]
        return out

    def grid(self) -> Iterator[dict[str, Any]]:
        """Every point of the grid, honouring conditions, in one fixed order; SpaceError if it has none."""
        errors: dict[str, str] = {}
        values: dict[str, list[Any]] = {}
        for param in self.params:
            try:
                values[param.name] = param.grid_values()
            except SpaceError as exc:
                errors.update(exc.errors)
        if errors:
            raise SpaceError(errors)
        return self._expand({}, 0, values)

    def _expand(self, point: dict[str, Any], index: int, values: Mapping[str, list[Any]]) -> Iterator[dict[str, Any]]:
        if index == len(self.params):
            yield dict(point)
            return
        param = self.params[index]
        if not self.is_active(param, point):
            yield from self._expand(point, index + 1, values)
            return
        for value in values[param.name]:
            yield from self._expand({**point, param.name: value}, index + 1, values)

    def grid_size(self) -> int:
        """How many points the grid has; SpaceError when it is not a grid or exceeds MAX_GRID_POINTS."""
        count = sum(1 for _ in itertools.islice(self.grid(), MAX_GRID_POINTS + 1))
        if count > MAX_GRID_POINTS:
            raise SpaceError(
                {"__all__": f"the grid has more than {MAX_GRID_POINTS:,} points; use random or tpe search instead"}
            )
        return count

    def largest(self, name: str, base: TrainConfig) -> Any:
        """The largest value a numeric option takes in any trial: the base config's where not searched
        (or where a condition can leave it unset). A sweep's longest trial is `largest("epochs", base)`."""
        if name not in self.names:
            return getattr(base, name)
        param = self[name]
        top = max(param.values) if isinstance(param, Choice) else param.high
        return max(top, getattr(base, name)) if param.when else top

    def describe(self) -> list[str]:
        """One human line per parameter, e.g. 'momentum: 0.8 to 0.99 when optimizer is sgd'."""
        lines = []
        for p in self.params:
            when = " and ".join(f"{k} is {' or '.join(map(_show, v))}" for k, v in p.when.items())
            lines.append(f"{p.name}: {p.describe()}{f' when {when}' if when else ''}")
        return lines


def point_key(point: Mapping[str, Any]) -> str:
    """A point's identity (a grid hands each out once): sorted JSON of its type-checked values."""
    normalized = {}
    for name, value in point.items():
        try:
            normalized[name] = coerce_option(name, value)
        except (KeyError, ValueError):
            normalized[name] = value
    return json.dumps(normalized, sort_keys=True, default=str)


def apply_point(base: TrainConfig, point: Mapping[str, Any]) -> TrainConfig:
    """The base config with a trial's values; ConfigError naming the field when the result cannot work
    (e.g. an image size below what a sampled architecture needs)."""
    return base.replace(**dict(point))
