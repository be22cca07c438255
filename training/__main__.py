"""python -m training --data FOLDER [--preset NAME ...] [--config config.json] [--set key=value ...] [--out DIR]
python -m training sweep --data FOLDER (--space space.json | --space-preset NAME) ...   (see training/sweep_cli.py)
python -m training bench [--quick] [--json FILE] [--only NAME ...]   (see training/bench/)

Runs the same pipeline as the web workers and prints its progress. Examples:

    python -m training --list presets
    python -m training --data digits/ --preset quick --out runs/digits
    python -m training --data digits/ --preset quick --set epochs=12 --resume runs/digits/last.pt --out runs/digits
    python -m training --data flowers/ --preset transfer-finetune --set device=cuda --out runs/flowers

The folder is read by the same layout rules as the web's uploads (`training.layout`), and the run is
checked by the same preflight as the web form: problems are printed by config field (exit status 2)
before anything trains; warnings (too few optimizer steps, a validation split too small to stop early
on, ...) are printed and the run goes ahead. With --data, a recipe's batch size and epochs adapt to the
training split (`training.presets.Needs`; --set batch_size/epochs win), and --show-config prints the
resolved config with its number of optimizer steps (on stderr). Ctrl-C once stops after the current
batch, keeping the last epoch's checkpoint (exit status 1).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from training.augment import describe_ops, list_augmentations
from training.callbacks import Callback, FitResult, Outcome, PrintProgress
from training.config import ConfigError, TrainConfig
from training.data import Splits, load_image_folder
from training.engine import fit
from training.models import list_models, model_info
from training.optim import list_optimizers, list_schedulers
from training.preflight import preflight
from training.presets import Resolved, list_presets
from training.presets import resolve as resolve_presets
from training.pretrained import PretrainedWeightsMissing
from training.steps import describe_steps


def _print_models() -> None:
    for name in list_models():
        info = model_info(name)
        weights = "pretrained weights" if info["weights"] else "no pretrained weights"
        print(f"{name:20} {info['description']} (min {info['min_input_size']}px, {weights})")


def _print_presets() -> None:
    for p in list_presets():
        values = ", ".join(f"{k}={v}" for k, v in p["values"].items())
        print(f"{p['name']:28} [{p['kind']}] {p['description']}\n{'':29}{values}")


def _print_options() -> None:
    for info in TrainConfig.fields_info():
        choices = f" one of {info['choices']}" if info["choices"] else ""
        print(f"{info['name']:22} {info['type'].__name__:5} default {info['default']!r}{choices}  {info['help']}")


LISTS: dict[str, Callable[[], None]] = {
    "models": _print_models,
    "presets": _print_presets,
    "options": _print_options,
    "augmentations": lambda: print("\n".join(list_augmentations())),
    "augment-ops": lambda: print(
        "\n".join(f"{o['name']:15} {o['description']} (default {o['default']})" for o in describe_ops())
    ),
    "optimizers": lambda: print("\n".join(list_optimizers())),
    "schedulers": lambda: print("\n".join(list_schedulers())),
}


class CancelOnInterrupt(Callback):
    """The first Ctrl-C ends the run after the current batch (as the web's cancel does); a second one aborts."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nstopping after this batch (Ctrl-C again to abort)", file=sys.stderr, flush=True)

    def should_stop(self) -> bool:
        return self.requested

    def restore(self) -> None:
        signal.signal(signal.SIGINT, self._previous)


def parse_values(items: list[str], parser: argparse.ArgumentParser) -> dict:
    values = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set {item!r}: expected KEY=VALUE")
        try:
            values[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            values[key.strip()] = value
    return values


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training", description="Train a CNN image classifier on an image folder."
    )
    parser.add_argument(
        "--data",
        help="image folder: one sub-folder per class, optionally under train/ val/ test/ (or a filename,label CSV)",
    )
    parser.add_argument(
        "--preset",
        action="append",
        default=[],
        metavar="NAME",
        help="a named preset (repeatable; later ones win); see --list presets",
    )
    parser.add_argument("--config", help="JSON file with config values (applied after the presets)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override one config value (repeatable)"
    )
    parser.add_argument("--val-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--out", help="folder for last.pt, model.pt and result.json")
    parser.add_argument("--resume", help="checkpoint (last.pt) to continue from; a larger epochs extends the run")
    parser.add_argument("--init-from", help="an earlier run's model.pt or last.pt to start from (transfer)")
    parser.add_argument("--list", choices=sorted(LISTS), help="list the available choices and exit")
    parser.add_argument("--show-config", action="store_true", help="print the resolved config and exit")
    return parser


class Refused(Exception):
    """The run cannot start; the problems are printed already."""


def print_problems(errors: dict[str, str], kind: str = "config error") -> None:
    for name, message in errors.items():
        print(f"{kind}: {name}: {message}", file=sys.stderr)


def resolve(args: argparse.Namespace, parser: argparse.ArgumentParser, train_size: int | None = None) -> Resolved:
    """The presets, then the --config file, then the --set values; the recipe adapted to a training
    split of `train_size` images where those leave its batch size and epochs alone."""
    values = json.loads(Path(args.config).read_text()) if args.config else {}
    values.update(parse_values(args.set, parser))
    try:
        return resolve_presets(args.preset, values, train_size)
    except ConfigError as exc:
        print_problems(exc.errors)
        raise Refused from exc


def show_config(resolved: Resolved) -> None:
    """The config as JSON on stdout (a valid --config file); its length in steps on stderr."""
    config = resolved.config
    print(json.dumps(config.to_dict(), indent=2))
    if resolved.train_size is None:
        print("steps: give --data to count the optimizer steps of this run", file=sys.stderr)
        return
    print(f"steps: {describe_steps(resolved.train_size, config.batch_size, config.epochs)}", file=sys.stderr)
    if resolved.adapted:
        print(f"adapted to the data: {resolved.note()}", file=sys.stderr)


def load_data(args: argparse.Namespace) -> Splits:
    try:
        return load_image_folder(args.data, args.val_fraction, args.test_fraction, args.split_seed)
    except (OSError, ValueError) as exc:  # a missing folder, a layout the rules refuse (DatasetRejected)
        print(f"data error: {exc}", file=sys.stderr)
        raise Refused from exc


def check(config: TrainConfig, data: Splits, args: argparse.Namespace) -> None:
    """The library's preflight, as the web form runs it: warnings are printed, errors refuse the run."""
    report = preflight(config, data, init_from=args.init_from, resuming=args.resume is not None)
    print_problems(report.warnings, "warning")
    print_problems(report.errors)
    if report.errors:
        raise Refused


def train(config: TrainConfig, data: Splits, args: argparse.Namespace) -> FitResult:
    cancel = CancelOnInterrupt()
    try:
        return fit(
            config,
            data,
            callbacks=[PrintProgress(), cancel],
            checkpoint_dir=args.out,
            resume_from=args.resume,
            init_from=args.init_from,
        )
    except ConfigError as exc:  # what only the checkpoint tells: a resumed run that changed its config
        print_problems(exc.errors)
        raise Refused from exc
    except PretrainedWeightsMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise Refused from exc
    finally:
        cancel.restore()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sweep"]:
        from training.sweep_cli import main as sweep  # imported here: it reuses this module's pieces

        return sweep(argv[1:])
    if argv[:1] == ["bench"]:
        from training.bench.cli import main as bench

        return bench(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        LISTS[args.list]()
        return 0
    try:
        resolved = resolve(args, parser)  # config errors first, before any data is read
        if args.data:
            data = load_data(args)
            resolved = resolve(args, parser, len(data.train))
        if args.show_config:
            show_config(resolved)
            if args.data:  # what the run would be warned about, without refusing anything
                print_problems(preflight(resolved.config, data).warnings, "warning")
            return 0
        if not args.data:
            parser.error("--data is required to train")
        config = resolved.config
        if resolved.adapted:
            print(f"adapted to the data: {resolved.note()}")
        check(config, data, args)
        result = train(config, data, args)
    except Refused:
        return 2
    if args.out:
        report = {"config": config.to_dict(), **result.to_dict()}
        (Path(args.out) / "result.json").write_text(json.dumps(report, indent=2))
        print(f"wrote {Path(args.out) / 'result.json'}")
    return 0 if result.status != Outcome.CANCELLED else 1


if __name__ == "__main__":
    sys.exit(main())
