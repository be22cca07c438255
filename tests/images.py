"""Real image files for the tests: small images a CNN can tell apart, folders of them in any dataset
layout, and zip archives good and bad. (Django-free: the training library's tests use it too.)"""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLORS = [(220, 40, 40), (40, 180, 60), (50, 70, 220), (230, 200, 30), (160, 40, 200), (30, 200, 200)]


# --- single images ---------------------------------------------------------------------------------
def image_bytes(
    color: tuple[int, int, int] = (200, 50, 50),
    size: tuple[int, int] = (12, 12),
    mode: str = "RGB",
    fmt: str = "PNG",
    seed: int = 0,
) -> bytes:
    """A small noisy image around `color` (noise: no two seeds give the same file)."""
    rng = np.random.default_rng(seed)
    w, h = size
    pixels = np.clip(np.array(color)[None, None, :] + rng.integers(-40, 41, (h, w, 3)), 0, 255).astype(np.uint8)
    img = Image.fromarray(pixels, "RGB")
    if mode == "P":
        img = img.quantize(16)
    elif mode == "RGBA":
        img = img.convert("RGBA")
        img.putalpha(Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8), "L"))
    elif mode != "RGB":
        img = img.convert(mode)
    buffer = io.BytesIO()
    img.save(buffer, format=fmt)
    return buffer.getvalue()


def pattern_image(label: int, rng: random.Random, size: int = 16, mode: str = "RGB") -> Image.Image:
    """A class's own color and bar orientation, jittered, so a CNN can learn the classes from few images."""
    base = COLORS[label % len(COLORS)]
    img = Image.new("RGB", (size, size), tuple(max(0, min(255, c + rng.randint(-30, 30))) for c in base))
    draw = ImageDraw.Draw(img)
    offset = rng.randint(0, size // 2)
    if label % 2:
        draw.rectangle([offset, 0, offset + size // 4, size], fill=(255, 255, 255))
    else:
        draw.rectangle([0, offset, size, offset + size // 4], fill=(0, 0, 0))
    return img.convert(mode) if mode != "RGB" else img


def truncated_png(seed: int = 0) -> bytes:
    data = image_bytes(size=(40, 40), seed=seed)
    return data[: len(data) // 2]


def big_png(width: int, height: int) -> bytes:
    """A real PNG of width x height pixels that stays small on disk (1-bit, one color)."""
    buffer = io.BytesIO()
    Image.new("1", (width, height), 1).save(buffer, format="PNG")
    return buffer.getvalue()


# --- sets of files: {relative name: bytes}, on disk or in a zip -----------------------------------
def class_entries(
    classes: int = 3, per_class: int = 6, prefix: str = "", seed: int = 0, size=(12, 12), names: list[str] | None = None
) -> dict[str, bytes]:
    """{"<prefix>class_i/img_j.png": bytes}: one folder per class, each class its own color."""
    names = names or [f"class_{c}" for c in range(classes)]
    entries = {}
    for c, name in enumerate(names):
        for i in range(per_class):
            entries[f"{prefix}{name}/img_{i:03d}.png"] = image_bytes(
                COLORS[c % len(COLORS)], size, seed=seed * 100_000 + c * 1000 + i
            )
    return entries


def write_entries(root: Path, entries: dict[str, bytes]) -> Path:
    """The entries as files under root (an image folder as a user would have it on disk)."""
    for name, data in entries.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def zip_bytes(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data, compress_type=compression)
    return buffer.getvalue()


def zip_with_link(entries: dict[str, bytes], link_name: str, target: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        info = zipfile.ZipInfo(link_name)
        info.external_attr = 0o120777 << 16  # a symbolic link, as `zip --symlinks` stores it
        zf.writestr(info, target)
    return buffer.getvalue()


# --- image folders ---------------------------------------------------------------------------------
def make_image_folder(root: Path, classes: int = 3, per_class: int = 12, size: int = 12, seed: int = 0) -> Path:
    """One folder per class of small noisy images, each class its own color."""
    return write_entries(root, class_entries(classes, per_class, seed=seed, size=(size, size)))


def write_pattern_folder(
    root: Path, classes: int = 3, per_class: int = 6, size: int = 16, seed: int = 0, modes: tuple[str, ...] = ("RGB",)
) -> Path:
    """One folder per class of pattern images; they cycle through `modes` (e.g. "L", "RGBA", "P") to mix file kinds."""
    rng = random.Random(seed)
    for c in range(classes):
        folder = root / f"class_{c}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pattern_image(c, rng, size, modes[i % len(modes)]).save(folder / f"img_{i:03d}.png")
    return root
