"""python -m training sweep --data FOLDER (--space space.json | --space-preset NAME) [options]

Runs a hyperparameter sweep on this machine, one trial after another: each trial is an ordinary `fit`
of the base config (presets and --set, as for a single run) with the trial's values, a pruning callback
and its own checkpoint folder under --out. Prints a line per trial and a table at the end (best first),
tests the best trial (the only use of the test split) and writes sweep.json. Examples:

    python -m training sweep --list space-presets
    python -m training sweep --data digits/ --preset quick --space-preset lr-weight-decay --method tpe --trials 12
    python -m training sweep --data digits/ --preset quick --space space.json --method grid --pruner none --out sw/

Ctrl-C once stops after the current batch of the running trial (exit status 1); bad spaces, configs or
data exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.__main__ import CancelOnInterrupt, parse_values
from training.callbacks import PrintProgress
from training.config import ConfigError, TrainConfig
from training.data import Splits, load_image_folder
from training.engine import TrainingDiverged, fit
from training.presets import resolve_config
from training.pretrained import PretrainedWeightsMissing
from training.search import (
    Budget,
    Objective,
    PrunerSpec,
    PruneWeakTrials,
    SearchSpace,
    SpaceError,
    Suggestion,
    TrialRecord,
    TrialState,
    apply_point,
    best_trial,
    check_method,
    expected_epochs,
    list_methods,
    list_pruners,
    list_space_presets,
    param_importance,
    ranked,
    rungs,
    space_from_preset,
    suggest,
)
from training.search.trials import evaluate_on_test, record_from_result, without_test

LISTS: dict[str, Callable[[], None]] = {
    "space-presets": lambda: print(
        "\n".join(f"{p['name']:28} {p['description']}\n{'':29}{json.dumps(p['space'])}" for p in list_space_presets())
    ),
    "methods": lambda: print("\n".join(list_methods())),
    "pruners": lambda: print("\n".join(list_pruners())),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training sweep", description="Search hyperparameters: trials one after another."
    )
    parser.add_argument("--data", help="image folder: one sub-folder per class (optionally under train/ val/ test/)")
    space = parser.add_mutually_exclusive_group()
    space.add_argument("--space", metavar="FILE", help="JSON search space (see training/README.md, Search)")
    space.add_argument("--space-preset", metavar="NAME", help="a ready-made space; see --list space-presets")
    parser.add_argument("--method", default="tpe", choices=list_methods(), help="default: tpe")
    parser.add_argument("--trials", type=int, default=10, help="the most trials to run (default 10)")
    parser.add_argument("--pruner", default="asha", choices=list_pruners(), help="early termination (default asha)")
    parser.add_argument("--min-epochs", type=int, default=1, help="the first epoch a trial can be stopped at (1)")
    parser.add_argument("--reduction-factor", type=int, default=3, help="asha/hyperband: keep the top 1/N (3)")
    parser.add_argument("--objective", default="val_acc", choices=[o.value for o in Objective])
    parser.add_argument("--max-epochs", type=int, help="budget: stop starting trials after this many epochs in all")
    parser.add_argument("--max-hours", type=float, help="budget: stop starting trials after this much training")
    parser.add_argument("--preset", action="append", default=[], metavar="NAME", help="base config preset")
    parser.add_argument("--config", help="JSON file with base config values (applied after the presets)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="base config value")
    parser.add_argument("--seed", type=int, default=0, help="the search's seed (random and tpe)")
    parser.add_argument("--val-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--out", help="folder for sweep.json and a checkpoint folder per trial (default: temporary)")
    parser.add_argument("--list", choices=sorted(LISTS), help="list the available choices and exit")
    return parser


@dataclass(frozen=True)
class SweepSettings:
    base: TrainConfig
    space: SearchSpace
    method: str
    objective: Objective
    pruner: PrunerSpec
    budget: Budget
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "objective": str(self.objective),
            "seed": self.seed,
            "space": self.space.to_dict(),
            "pruner": self.pruner.to_dict(),
            "budget": self.budget.to_dict(),
            "base_config": self.base.to_dict(),
        }


def settings_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> SweepSettings:
    """Raises ConfigError (the base config), SpaceError (the space, method or budget) or OSError (files)."""
    values = json.loads(Path(args.config).read_text()) if args.config else {}
    values.update(parse_values(args.set, parser))
    base = resolve_config(args.preset, values)
    if args.space:
        try:
            space = SearchSpace.parse(json.loads(Path(args.space).read_text()))
        except json.JSONDecodeError as exc:
            raise SpaceError({"__all__": f"{args.space} is not valid JSON: {exc}"}) from None
    else:
        space = space_from_preset(args.space_preset)
    check_method(space, args.method)
    if args.trials < 1:
        raise SpaceError({"trials": "must be at least 1"})
    pruner = PrunerSpec(
        args.pruner, space.largest("epochs", base), min_epochs=args.min_epochs, reduction_factor=args.reduction_factor
    )
    budget = Budget(args.trials, args.max_epochs, args.max_hours)
    return SweepSettings(base, space, args.method, Objective(args.objective), pruner, budget, args.seed)


def format_params(params: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()) or "(base)"


class LocalSweep:
    """The trials of one sweep, run in this process one after another."""

    def __init__(self, settings: SweepSettings, data: Splits, out: Path, cancel: CancelOnInterrupt) -> None:
        self.settings, self.data, self.out, self.cancel = settings, data, out, cancel
        self.records: list[TrialRecord] = []
        self.notes: dict[int, str] = {}  # why a trial failed or was pruned
        self.configs: dict[int, TrainConfig] = {}

    def run(self) -> None:
        s = self.settings
        while not self.cancel.requested:
            count = s.budget.trials_to_start(self.records)
            batch = suggest(s.space, s.method, s.seed, self.records, count, objective=s.objective)
            if not batch:
                break
            self.run_trial(batch[0])

    def run_trial(self, suggestion: Suggestion) -> TrialRecord:
        number, params = suggestion.number, suggestion.params
        print(f"trial {number}: {format_params(params)}", flush=True)
        try:
            config = self.configs[number] = apply_point(self.settings.base, params)
        except ConfigError as exc:
            return self._failed(number, params, {}, 0.0, _errors_line(exc.errors))
        pruning = PruneWeakTrials(
            self.settings.pruner, self.settings.objective, number, params, others=lambda: self.records
        )
        started = time.perf_counter()
        try:
            result = fit(
                config,
                without_test(self.data),
                [PrintProgress(), pruning, self.cancel],
                checkpoint_dir=self.folder(number),
            )
        except ConfigError as exc:
            return self._failed(number, params, pruning.values, time.perf_counter() - started, _errors_line(exc.errors))
        except (PretrainedWeightsMissing, TrainingDiverged) as exc:
            return self._failed(number, params, pruning.values, time.perf_counter() - started, str(exc))
        record = record_from_result(number, params, result, self.settings.objective, time.perf_counter() - started)
        self.notes[number] = result.stop_reason
        return self._add(record)

    def folder(self, number: int) -> Path:
        return self.out / f"trial-{number:03d}"

    def _failed(self, number: int, params: dict, values: Mapping[int, float], seconds: float, why: str) -> TrialRecord:
        self.notes[number] = why
        return self._add(TrialRecord(number, params, TrialState.FAILED, None, dict(values), seconds))

    def _add(self, record: TrialRecord) -> TrialRecord:
        self.records.append(record)
        value = f"{self.settings.objective} {record.value:.4f}, " if record.value is not None else ""
        why = self.notes.get(record.number) if record.state != TrialState.COMPLETED else ""
        note = f": {why}" if why else ""
        print(
            f"trial {record.number} {record.state}: {value}{record.epochs_run} epochs, {record.seconds:.1f}s{note}",
            flush=True,
        )
        return record

    def test_best(self) -> dict[str, Any] | None:
        """The best trial tested on the test split (None without a completed trial or a test split)."""
        best = best_trial(self.settings.objective, self.records)
        if best is None or not self.data.test:
            return None
        try:
            result = evaluate_on_test(self.configs[best.number], self.data, self.folder(best.number), best.epochs_run)
        except ConfigError as exc:
            return {"trial": best.number, "error": _errors_line(exc.errors)}
        return {"trial": best.number, "model_path": result.model_path, **_test_summary(result.test or {})}

    def table(self) -> str:
        objective = str(self.settings.objective)
        lines = [f"{'trial':>5}  {'status':9}  {objective:>8}  {'epochs':>6}  {'time':>7}  params"]
        for r in ranked(self.settings.objective, self.records):
            value = f"{r.value:.4f}" if r.value is not None else "-"
            row = f"{r.number:>5}  {r.state:9}  {value:>8}  {r.epochs_run:>6}  {r.seconds:>6.1f}s"
            lines.append(f"{row}  {format_params(r.params)}")
        return "\n".join(lines)

    def report(self, test: dict[str, Any] | None) -> dict[str, Any]:
        s = self.settings
        best = best_trial(s.objective, self.records)
        return {
            **s.to_dict(),
            "rungs": rungs(s.pruner),
            "expected_epochs": expected_epochs(s.pruner, s.budget.max_trials),
            "trials": [
                {**r.to_dict(), "note": self.notes.get(r.number, ""), "folder": str(self.folder(r.number))}
                for r in ranked(s.objective, self.records)
            ],
            "best": {
                "trial": best.number,
                "value": best.value,
                "params": dict(best.params),
                "config": self.configs[best.number].to_dict(),
                "test": test,
            }
            if best
            else None,
            "importance": param_importance(s.space, s.objective, self.records),
        }


def _errors_line(errors: Mapping[str, str]) -> str:
    return "; ".join(f"{name}: {message}" for name, message in errors.items())


def _test_summary(test: Mapping[str, Any]) -> dict[str, Any]:
    return {k: test[k] for k in ("accuracy", "loss", "macro_f1", "top5_accuracy", "num_samples") if k in test}


def _print_errors(kind: str, errors: Mapping[str, str]) -> None:
    for name, message in errors.items():
        print(f"{kind} error: {name}: {message}", file=sys.stderr)


def load_data(args: argparse.Namespace) -> Splits:
    """The dataset; ValueError when it cannot serve a sweep (no validation split to choose on)."""
    data = load_image_folder(args.data, args.val_fraction, args.test_fraction, args.split_seed)
    if not data.val:
        raise ValueError("a sweep chooses on the validation split and this dataset has none; raise --val-fraction")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        LISTS[args.list]()
        return 0
    if not args.space and not args.space_preset:
        parser.error("give a search space: --space FILE or --space-preset NAME (see --list space-presets)")
    try:
        settings = settings_from_args(args, parser)
    except ConfigError as exc:
        _print_errors("config", exc.errors)
        return 2
    except SpaceError as exc:
        _print_errors("space", exc.errors)
        return 2
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.data:
        parser.error("--data is required")
    try:
        data = load_data(args)
    except (OSError, ValueError) as exc:
        print(f"data error: {exc}", file=sys.stderr)
        return 2
    return run_sweep(settings, data, Path(args.out) if args.out else None)


def run_sweep(settings: SweepSettings, data: Splits, out: Path | None) -> int:
    print(
        "\n".join(
            [
                f"sweep: {settings.method}, up to {settings.budget.max_trials} trials, "
                f"{settings.pruner.name} pruning, {settings.objective} ({settings.objective.direction})",
                *(f"  {line}" for line in settings.space.describe()),
            ]
        ),
        flush=True,
    )
    cancel = CancelOnInterrupt()
    with tempfile.TemporaryDirectory(prefix="sweep-") as scratch:
        sweep = LocalSweep(settings, data, out or Path(scratch), cancel)
        try:
            sweep.run()
        finally:
            cancel.restore()
        print(sweep.table())
        test = None if cancel.requested else sweep.test_best()
        _print_best(sweep, test)
        if out is not None:
            (out / "sweep.json").write_text(json.dumps(sweep.report(test), indent=2))
            print(f"wrote {out / 'sweep.json'}")
    if cancel.requested:
        return 1
    return 0 if best_trial(settings.objective, sweep.records) else 1


def _print_best(sweep: LocalSweep, test: dict[str, Any] | None) -> None:
    best = best_trial(sweep.settings.objective, sweep.records)
    if best is None:
        print("no trial completed", file=sys.stderr)
        return
    tested = ""
    if test and "accuracy" in test:
        tested = f", test accuracy {test['accuracy']:.4f}"
    elif test and "error" in test:
        tested = f" (not tested: {test['error']})"
    found = f"best: trial {best.number}, {sweep.settings.objective} {best.value:.4f}"
    print(f"{found}{tested}: {format_params(best.params)}")
