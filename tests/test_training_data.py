"""Images to tensors (any PIL mode), statistics, the two data paths, and augmentation."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from tests.images import pattern_image, write_pattern_folder
from tests.training_helpers import TINY, Recorder
from training import TrainConfig, augment_preview, compute_stats, fit, list_augmentations, load_image_folder
from training.augment import build_augmenter, parse_spec
from training.data import channel_stats, decode, load_image, normalize, to_rgb
from training.loaders import choose_data_path


def test_grayscale_becomes_three_equal_channels():
    rgb = to_rgb(Image.new("L", (4, 4), 77))
    assert rgb.mode == "RGB" and rgb.getpixel((0, 0)) == (77, 77, 77)


def test_transparency_is_composited_on_white():
    img = Image.new("RGBA", (4, 4), (10, 20, 30, 0))  # invisible color under transparent pixels
    img.putpixel((0, 0), (200, 0, 0, 255))
    rgb = to_rgb(img)
    assert rgb.getpixel((1, 1)) == (255, 255, 255) and rgb.getpixel((0, 0)) == (200, 0, 0)
    assert to_rgb(Image.new("LA", (2, 2), (0, 0))).getpixel((0, 0)) == (255, 255, 255)
    palette = Image.new("P", (2, 2), 0)
    palette.info["transparency"] = 0
    assert to_rgb(palette).getpixel((0, 0)) == (255, 255, 255)


def test_sixteen_bit_grayscale_is_scaled_not_clipped():
    img = Image.fromarray(np.full((3, 3), 65535, dtype=np.uint16))
    assert to_rgb(img).getpixel((0, 0)) == (255, 255, 255)
    half = Image.fromarray(np.full((3, 3), 32896, dtype=np.uint16))
    assert to_rgb(half).getpixel((0, 0)) == (128, 128, 128)


def test_exif_orientation_is_applied():
    img = Image.new("RGB", (6, 2), (0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: viewers show it upright, 2 wide and 6 tall
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", exif=exif.tobytes())
    buffer.seek(0)
    assert to_rgb(Image.open(buffer)).size == (2, 6)


def test_a_folder_of_mixed_image_modes_trains(tmp_path):
    root = write_pattern_folder(tmp_path, classes=3, per_class=6, modes=("RGB", "L", "RGBA", "P"))
    result = fit(TrainConfig.from_dict(TINY), load_image_folder(root))
    assert result.status == "completed"


def test_decode_resizes_to_uint8_tensors(tmp_path):
    path = tmp_path / "a.png"
    pattern_image(0, __import__("random").Random(0), size=20).save(path)
    x, y = decode([(str(path), 2)] * 3, 8)
    assert x.shape == (3, 3, 8, 8) and x.dtype == torch.uint8 and y.tolist() == [2, 2, 2]
    assert load_image(path, 8, "center_crop").shape == (3, 8, 8)


def test_channel_statistics_match_the_definition():
    x = torch.randint(0, 256, (10, 3, 5, 5), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    mean, std = channel_stats(x, chunk=3)
    f = x.double() / 255
    assert mean == pytest.approx(f.mean(dim=(0, 2, 3)).tolist())
    assert std == pytest.approx(f.std(dim=(0, 2, 3), unbiased=False).tolist())
    normalized = normalize(x, mean, std)
    assert normalized.mean(dim=(0, 2, 3)).abs().max() < 1e-5


def test_compute_stats_reads_a_sample_of_the_files(tmp_path):
    data = load_image_folder(write_pattern_folder(tmp_path, classes=2, per_class=5))
    mean, std = compute_stats(data.train, image_size=16, max_images=3)
    assert len(mean) == len(std) == 3 and all(0 < m < 1 for m in mean)


def test_stored_statistics_are_used_when_given(tmp_path):
    data = load_image_folder(write_pattern_folder(tmp_path, classes=3, per_class=6))
    recorder = Recorder()
    stats = ([0.5, 0.4, 0.3], [0.2, 0.2, 0.2])
    fit(TrainConfig.from_dict(TINY), data, [recorder], stats=stats)
    assert (recorder.start.mean, recorder.start.std) == stats
    fit(TrainConfig.from_dict({**TINY, "normalization": "imagenet"}), data, [recorder], stats=stats)
    assert recorder.start.mean == [0.485, 0.456, 0.406]


def test_the_memory_and_stream_paths_train_alike(tmp_path):
    data = load_image_folder(write_pattern_folder(tmp_path, classes=3, per_class=10))
    config = TrainConfig.from_dict({**TINY, "epochs": 3, "batch_size": 8, "lr": 0.02})
    memory = fit(config.replace(data_loading="memory"), data)
    stream = fit(config.replace(data_loading="stream", num_workers=0), data)
    # Without augmentation the batches are the same images in the same order: the same run.
    assert [m.train_loss for m in memory.history] == pytest.approx([m.train_loss for m in stream.history], rel=1e-5)
    assert memory.test["accuracy"] == stream.test["accuracy"]


def test_auto_streams_what_does_not_fit_the_memory_limit(tmp_path):
    data = load_image_folder(write_pattern_folder(tmp_path, classes=3, per_class=6))
    assert choose_data_path(TrainConfig.from_dict({"memory_limit_mb": 1}), data) == "memory"
    assert choose_data_path(TrainConfig.from_dict({"memory_limit_mb": 0}), data) == "stream"


# --- augmentation -----------------------------------------------------------------------------------
def batch(n: int = 8, size: int = 16) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def test_batched_augmentation_draws_its_own_parameters_for_every_sample():
    x = batch(1).repeat(16, 1, 1, 1)  # one image, 16 times
    out = build_augmenter("heavy", 16)(x, torch.Generator().manual_seed(0))
    assert len({tuple(img.flatten().tolist()) for img in out}) == 16


def test_flips_with_certainty_and_never():
    x = batch()
    gen = torch.Generator().manual_seed(0)
    assert torch.equal(build_augmenter("custom", 16, "hflip=1")(x, gen), x.flip(-1))
    assert torch.equal(build_augmenter("custom", 16, "vflip=1")(x, gen), x.flip(-2))
    assert torch.equal(build_augmenter("custom", 16, "hflip=0")(x, gen), x)


def test_a_zero_rotation_leaves_images_untouched():
    # Checks the sampling grid's conventions: identity matrices must reproduce every pixel exactly.
    x = batch()
    assert torch.equal(build_augmenter("custom", 16, "rotate=0,shear=0,scale=0")(x, torch.Generator()), x)


def test_translation_is_a_crop_of_the_reflect_padded_image():
    x = batch(4)
    out = build_augmenter("custom", 16, "translate=0.125")(x, torch.Generator().manual_seed(3))
    padded = F.pad(x.float(), (2, 2, 2, 2), mode="reflect")
    for img, src in zip(out, padded, strict=True):
        crops = [src[:, dy : dy + 16, dx : dx + 16] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(img.float(), c) for c in crops)


def test_erasing_fills_a_rectangle_with_the_given_color():
    x = torch.zeros(6, 3, 16, 16, dtype=torch.uint8)
    out = build_augmenter("custom", 16, "erase=1", fill=(9, 8, 7))(x, torch.Generator().manual_seed(0))
    for img in out:
        mask = (img == torch.tensor([9, 8, 7]).view(3, 1, 1)).all(0)
        rows, cols = mask.any(1).nonzero(), mask.any(0).nonzero()
        assert mask.sum() == len(rows) * len(cols) > 0  # a filled rectangle
        assert 0.01 * 256 <= mask.sum() <= 0.34 * 256


def test_color_jitter_changes_colors_but_not_shapes():
    x = batch()
    out = build_augmenter("custom", 16, "color_jitter=0.5")(x, torch.Generator().manual_seed(0))
    assert not torch.equal(out, x) and out.shape == x.shape


def test_a_spec_is_parsed_with_defaults_and_checked():
    expected = [("hflip", 0.5), ("rotate", 15.0), ("trivialaugment", None)]
    assert parse_spec(" hflip , rotate=15,trivialaugment,") == expected
    with pytest.raises(ValueError, match="between 0 and 1"):
        parse_spec("erase=2")


def test_the_preview_gives_n_seeded_versions_of_each_image():
    images = [pattern_image(c, __import__("random").Random(c), size=24) for c in range(2)]
    rows = augment_preview(images, "heavy", 4, 32, seed=1)
    assert len(rows) == 2 and all(len(r) == 4 for r in rows)
    assert all(img.size == (32, 32) and img.mode == "RGB" for r in rows for img in r)
    again = augment_preview(images, "heavy", 4, 32, seed=1)
    assert [i.tobytes() for r in rows for i in r] == [i.tobytes() for r in again for i in r]
    other = augment_preview(images, "heavy", 4, 32, seed=2)
    assert [i.tobytes() for r in rows for i in r] != [i.tobytes() for r in other for i in r]
    custom = augment_preview(images[:1], "custom", 2, 16, custom_ops="hflip=1")
    assert custom[0][0].tobytes() == custom[0][1].tobytes()


def test_every_preset_previews():
    image = pattern_image(0, __import__("random").Random(0))
    for preset in list_augmentations():
        assert len(augment_preview([image], preset, 2, 16, custom_ops="rotate=10")[0]) == 2
