"""Taking a finished run's model out: the weights, ONNX, a `torch.export` program, and a model card.

Every format is a registry entry `name -> (file name, builder)`; `build_export(name, model_pt, folder,
info)` writes one file (atomically) and returns its path. The ONNX file and the `.pt2` program take
normalized float images `images` (N, 3, S, S) and answer `probabilities` (N, classes) in the card's
class order; the batch size is free. TorchScript is deprecated in this PyTorch and not offered.

The model card (`card.json`, `card.md`) says what a user needs to run the model elsewhere: the
architecture, classes in output order, preprocessing (input size, resize mode, mean/std), the dataset,
the config, the test metrics, the environment, and prediction snippets for ONNX Runtime and PyTorch.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from training.inference import Predictor
from training.registry import Registry

EXPORT_BATCH = torch.export.Dim("batch", min=1, max=4096)
INPUT_NAME, OUTPUT_NAME = "images", "probabilities"


@dataclass(frozen=True)
class ExportFormat:
    filename: str
    build: Callable[[Predictor, Path, dict[str, Any]], None]  # (model, target file, card info)
    content_type: str = "application/octet-stream"


EXPORTS: Registry[ExportFormat] = Registry("export format")


def list_exports() -> list[str]:
    return EXPORTS.names()


def _example(predictor: Predictor) -> tuple[torch.Tensor]:
    size = predictor.input_size
    return (torch.zeros(2, 3, size, size),)


def _write_atomic(target: Path, write: Callable[[Path], None]) -> Path:
    """`write(tmp)` into a temporary file beside `target`, then rename: no half file is ever seen."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _state_dict(predictor: Predictor, path: Path, info: dict[str, Any]) -> None:
    torch.save(predictor.model.model.state_dict(), path)


def _onnx(predictor: Predictor, path: Path, info: dict[str, Any]) -> None:
    program = torch.onnx.export(
        predictor.model,
        _example(predictor),
        dynamo=True,
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamic_shapes=({0: EXPORT_BATCH},),
        verbose=False,
    )
    program.save(str(path))


def _program(predictor: Predictor, path: Path, info: dict[str, Any]) -> None:
    program = torch.export.export(predictor.model, _example(predictor), dynamic_shapes=({0: EXPORT_BATCH},))
    torch.export.save(program, str(path))


def _card_json(predictor: Predictor, path: Path, info: dict[str, Any]) -> None:
    path.write_text(json.dumps(model_card(predictor, info), indent=2, default=str))


def _card_markdown(predictor: Predictor, path: Path, info: dict[str, Any]) -> None:
    path.write_text(card_markdown(model_card(predictor, info)))


EXPORTS.add("weights", ExportFormat("weights.pt", _state_dict), "the state_dict: torch.load(..., weights_only=True)")
EXPORTS.add("onnx", ExportFormat("model.onnx", _onnx), "ONNX (opset of torch.onnx's dynamo exporter)")
EXPORTS.add("pt2", ExportFormat("model.pt2", _program), "a torch.export program: torch.export.load")
EXPORTS.add("card_json", ExportFormat("card.json", _card_json, "application/json"), "the model card as JSON")
EXPORTS.add("card_md", ExportFormat("card.md", _card_markdown, "text/markdown; charset=utf-8"), "the model card")


def build_export(name: str, model_path: str | Path, folder: str | Path, info: dict[str, Any] | None = None) -> Path:
    """The export `name` of the model in `model_path` (a `model.pt`), written into `folder`.
    info: what the card says beyond the checkpoint (dataset, test metrics, environment)."""
    fmt = EXPORTS.get(name)
    predictor = Predictor.load(model_path)
    return _write_atomic(Path(folder) / fmt.filename, lambda tmp: fmt.build(predictor, tmp, info or {}))


def model_card(predictor: Predictor, info: dict[str, Any]) -> dict[str, Any]:
    config = predictor.config
    return {
        "name": info.get("name", ""),
        "architecture": config.arch,
        "classes": predictor.classes,
        "epoch": predictor.epoch,
        "input": {"name": INPUT_NAME, "shape": ["batch", 3, config.image_size, config.image_size], "dtype": "float32"},
        "output": {"name": OUTPUT_NAME, "shape": ["batch", len(predictor.classes)], "meaning": "class probabilities"},
        "preprocessing": {
            "color": "RGB (EXIF orientation applied; transparency composited on white)",
            "input_size": config.image_size,
            "resize": config.resize,
            "scale": "pixel / 255",
            "mean": predictor.mean,
            "std": predictor.std,
        },
        "dataset": info.get("dataset", {}),
        "config": config.to_dict(),
        "test_metrics": info.get("test_metrics") or {},
        "environment": info.get("environment") or {},
        "files": {name: EXPORTS.get(name).filename for name in EXPORTS},
    }


RESIZE_CODE = {
    "stretch": "img = img.resize((SIZE, SIZE), Image.BILINEAR)",
    "center_crop": (
        "scale = SIZE / min(img.size)\n"
        "w, h = max(SIZE, round(img.width * scale)), max(SIZE, round(img.height * scale))\n"
        "img = img.resize((w, h), Image.BILINEAR)\n"
        "left, top = (w - SIZE) // 2, (h - SIZE) // 2\n"
        "img = img.crop((left, top, left + SIZE, top + SIZE))"
    ),
}


def _preprocess_code(card: dict[str, Any]) -> str:
    pre = card["preprocessing"]
    return (
        "import numpy as np\nfrom PIL import Image, ImageOps\n\n"
        f"SIZE, MEAN, STD = {pre['input_size']}, {pre['mean']}, {pre['std']}\n"
        f"CLASSES = {card['classes']}\n\n"
        "def preprocess(path):\n"
        "    img = ImageOps.exif_transpose(Image.open(path)).convert('RGB')\n"
        + "".join(f"    {line}\n" for line in RESIZE_CODE.get(pre["resize"], RESIZE_CODE["stretch"]).splitlines())
        + "    x = np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255\n"
        "    mean, std = np.array(MEAN, np.float32)[:, None, None], np.array(STD, np.float32)[:, None, None]\n"
        "    return ((x - mean) / std)[None]\n"
    )


def card_markdown(card: dict[str, Any]) -> str:
    pre, files = card["preprocessing"], card["files"]
    dataset = card["dataset"]
    metrics = {k: v for k, v in card["test_metrics"].items() if isinstance(v, int | float)}
    prepare = _preprocess_code(card)
    lines = [
        f"# Model card: {card['name'] or card['architecture']}",
        "",
        f"- Architecture: `{card['architecture']}` (weights of epoch {card['epoch']})",
        f"- Classes, in output order: {', '.join(f'`{c}`' for c in card['classes'])}",
        f"- Input: `{card['input']['name']}` float32 (batch, 3, {pre['input_size']}, {pre['input_size']}); "
        f"output: `{card['output']['name']}` (batch, {len(card['classes'])}), class probabilities",
        f"- Preprocessing: {pre['color']}; resize `{pre['resize']}` to {pre['input_size']} px; "
        f"pixel / 255; mean {pre['mean']}; std {pre['std']}",
        f"- Dataset: {dataset.get('name', '?')} version {dataset.get('version', '?')}, "
        f"content hash `{dataset.get('content_hash') or '-'}`",
        "",
        "## Test metrics",
        "",
        *([f"- {k}: {v:.4g}" for k, v in metrics.items()] or ["- (no test split)"]),
        "",
        "## Environment",
        "",
        *[f"- {k}: {v}" for k, v in card["environment"].items()],
        "",
        "## Predict with ONNX Runtime",
        "",
        "```python",
        prepare + "import onnxruntime as ort",
        "",
        f"session = ort.InferenceSession('{files['onnx']}', providers=['CPUExecutionProvider'])",
        f"probs = session.run(None, {{'{card['input']['name']}': preprocess('image.png')}})[0][0]",
        "print(sorted(zip(probs, CLASSES), reverse=True)[:5])",
        "```",
        "",
        "## Predict with PyTorch",
        "",
        "```python",
        prepare + "import torch",
        "",
        f"program = torch.export.load('{files['pt2']}').module()",
        "probs = program(torch.from_numpy(preprocess('image.png')))[0]",
        "print(sorted(zip(probs.tolist(), CLASSES), reverse=True)[:5])",
        f"# The weights alone: torch.load('{files['weights']}', weights_only=True) is the state_dict of",
        f"# training.models.create_model('{card['architecture']}', ...) with the config below.",
        "```",
        "",
        "## Config",
        "",
        "```json",
        json.dumps(card["config"], indent=2),
        "```",
        "",
    ]
    return "\n".join(lines)
