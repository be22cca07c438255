"""python -m training --data FOLDER [--config config.json] [--set key=value ...] [--out DIR]"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from training import ConfigError, PrintProgress, TrainConfig, fit, load_image_folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training", description="Train a CNN image classifier on an image folder.")
    parser.add_argument("--data", required=True, help="image folder: one sub-folder per class (optionally under train/ val/ test/)")
    parser.add_argument("--config", help="JSON file with config values (missing ones take defaults)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one config value (repeatable)")
    parser.add_argument("--val-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--out", help="folder for the checkpoint and result.json")
    parser.add_argument("--resume", help="checkpoint to continue from")
    args = parser.parse_args(argv)

    values = json.loads(Path(args.config).read_text()) if args.config else {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set {item!r}: expected KEY=VALUE")
        try:
            values[key] = json.loads(value)
        except json.JSONDecodeError:
            values[key] = value
    try:
        config = TrainConfig.from_dict(values)
    except ConfigError as exc:
        for name, message in exc.errors.items():
            print(f"config error: {name}: {message}", file=sys.stderr)
        return 2
    data = load_image_folder(args.data, args.val_fraction, args.test_fraction, args.split_seed)
    result = fit(config, data, callbacks=[PrintProgress()], checkpoint_dir=args.out, resume_from=args.resume)
    if args.out:
        (Path(args.out) / "result.json").write_text(json.dumps({"config": config.to_dict(), **result.to_dict()}, indent=2))
    return 0 if result.status != "cancelled" else 1


if __name__ == "__main__":
    sys.exit(main())
