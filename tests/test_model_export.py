"""Taking a model out: the state_dict, ONNX, the torch.export program and the model card agree with the
checkpoint (and so with what training measured) on the test images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from tests.images import write_pattern_folder
from tests.training_helpers import TINY
from training import TrainConfig, fit, load_image_folder
from training.environment import environment
from training.export import EXPORTS, build_export, list_exports
from training.inference import ImageUnreadable, Predictor
from training.models import create_model

INFO = {
    "name": "colors",
    "dataset": {"name": "Patterns", "version": 2, "content_hash": "ab" * 32},
    "test_metrics": {"accuracy": 0.5},
    "environment": environment(),
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny finished run: its data, fit result and model.pt, with every export built."""
    root = tmp_path_factory.mktemp("export")
    data = load_image_folder(write_pattern_folder(root / "data", classes=3, per_class=8, modes=("RGB", "L", "RGBA")))
    result = fit(TrainConfig.from_dict({**TINY, "epochs": 2}), data, checkpoint_dir=root / "ckpt")
    files = {name: build_export(name, result.model_path, root / "exports", INFO) for name in list_exports()}
    return data, result, files


def _inputs(run) -> torch.Tensor:
    data, result, _ = run
    predictor = Predictor.load(result.model_path)
    return torch.stack([predictor.read(path) for path, _ in data.test])


def test_the_checkpoint_predicts_what_training_measured_on_the_test_images(run):
    data, result, _ = run
    predictor = Predictor.load(result.model_path)
    predictions = predictor.predict_files([path for path, _ in data.test], k=1)
    measured = result.test["predictions"]
    assert [p.classes[0] for p in predictions] == [m["predicted"] for m in measured]
    assert [p.probabilities[0] for p in predictions] == pytest.approx([m["confidence"] for m in measured], abs=1e-5)


def test_onnx_runtime_gives_the_checkpoints_answers(run):
    _, result, files = run
    x = _inputs(run)
    expected = Predictor.load(result.model_path).probabilities(x).numpy()
    session = ort.InferenceSession(str(files["onnx"]), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["images"]
    got = session.run(["probabilities"], {"images": x.numpy()})[0]
    assert got.shape == expected.shape == (len(x), 3)
    assert (got.argmax(1) == expected.argmax(1)).all()
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_the_exported_program_gives_the_checkpoints_answers(run):
    _, result, files = run
    x = _inputs(run)
    expected = Predictor.load(result.model_path).probabilities(x)
    program = torch.export.load(str(files["pt2"])).module()
    got = program(x)
    assert torch.equal(got.argmax(1), expected.argmax(1))
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)
    assert program(x[:1]).shape == (1, 3)  # the batch size is free


def test_the_weights_load_with_weights_only_into_the_architecture(run):
    _, result, files = run
    state = torch.load(files["weights"], weights_only=True)
    config = TrainConfig.from_dict({**TINY, "epochs": 2})
    model = create_model(config.arch, 3, config.image_size, depth=config.depth, width=config.width).eval()
    model.load_state_dict(state)
    x = _inputs(run)
    expected = Predictor.load(result.model_path).probabilities(x)
    torch.testing.assert_close(torch.softmax(model(x), 1), expected)


def test_the_model_card_says_how_to_use_the_model(run):
    data, result, files = run
    card = json.loads(files["card_json"].read_text())
    assert card["classes"] == data.classes
    assert card["architecture"] == "small_cnn"
    predictor = Predictor.load(result.model_path)
    pre = card["preprocessing"]
    assert {k: pre[k] for k in ("input_size", "resize", "mean", "std")} == {
        "input_size": 16,
        "resize": "stretch",
        "mean": predictor.mean,
        "std": predictor.std,
    }
    assert card["dataset"] == INFO["dataset"] and card["test_metrics"] == {"accuracy": 0.5}
    assert card["environment"]["torch"] == torch.__version__ and card["config"]["epochs"] == 2
    text = files["card_md"].read_text()
    for needed in ("ort.InferenceSession('model.onnx'", "torch.export.load('model.pt2')", "class_0", "ab" * 32):
        assert needed in text
    assert "torch.jit" not in text and "torchscript" not in " ".join(EXPORTS).lower()


@pytest.mark.parametrize(("section", "export"), [("ONNX Runtime", "onnx"), ("PyTorch", "pt2")])
def test_the_cards_snippets_run_and_agree(run, tmp_path, monkeypatch, section, export):
    data, result, files = run
    snippet = files["card_md"].read_text().split(f"## Predict with {section}")[1].split("```python")[1]
    snippet = snippet.split("```")[0].replace("print(", "found = (")
    (tmp_path / files[export].name).write_bytes(files[export].read_bytes())
    (tmp_path / "image.png").write_bytes(Path(data.test[0][0]).read_bytes())
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(snippet, scope)  # the card's own code, as a user would paste it
    top_probability, top_class = scope["found"][0]
    expected = Predictor.load(result.model_path).predict_files([data.test[0][0]], k=1)[0]
    assert top_class == expected.classes[0]
    assert float(top_probability) == pytest.approx(expected.probabilities[0], abs=1e-4)


def test_a_file_that_is_no_image_is_refused_by_name(run, tmp_path):
    _, result, _ = run
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with pytest.raises(ImageUnreadable, match="not a readable image"):
        Predictor.load(result.model_path).read(bad)


def test_a_run_from_imagenet_weights_below_96_pixels_loads_in_its_layout(tmp_path, monkeypatch):
    # Pretrained runs keep the ImageNet stem at small sizes; a model rebuilt from scratch would not fit.
    import torchvision.models as tvm

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    weights = tmp_path / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    weights.parent.mkdir(parents=True)
    torch.save(tvm.resnet18(weights=None).state_dict(), weights)  # random, in the file torchvision downloads
    data = load_image_folder(write_pattern_folder(tmp_path / "data", classes=3, per_class=6))
    config = {**TINY, "arch": "resnet18", "image_size": 32, "pretrained": True, "batch_size": 12}
    result = fit(TrainConfig.from_dict(config), data, checkpoint_dir=tmp_path / "ckpt")
    predictions = Predictor.load(result.model_path).predict_files([p for p, _ in data.test], k=1)
    assert [p.classes[0] for p in predictions] == [m["predicted"] for m in result.test["predictions"]]
