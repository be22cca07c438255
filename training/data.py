"""Image folders as splits, decoding to uint8 tensors, channel statistics and normalization.
(`training.layout` reads a folder's layout and draws its split; `training.loaders` turns these into batches.)
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torchvision.transforms.v2 import functional as TF

from training.layout import SPLITS, Sample, draw_split, plan_folder
from training.registry import Registry


@dataclass
class Splits:
    classes: list[str]
    train: list[Sample]
    val: list[Sample]
    test: list[Sample] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in SPLITS}


def load_image_folder(
    root: str | Path, val_fraction: float = 0.15, test_fraction: float = 0.15, seed: int = 0
) -> Splits:
    """A folder's images as train/val/test, by the layout rules of `training.layout` (the web's too):
    class folders, split folders (any of train/val/test and their aliases; a missing split drawn from
    train), a wrapper folder, or a labels CSV. Raises FileNotFoundError, or DatasetRejected (a
    ValueError) naming what is wrong with the folder."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no image folder at {root}")
    plan = plan_folder(root)
    manifest, _ = draw_split(plan.files, plan.classes, plan.fixed_split, val_fraction, test_fraction, seed)
    source = {f.target: f.source for f in plan.files}

    def part(split: str) -> list[Sample]:
        return [(str(root / source[target]), label) for target, label in manifest[split]]

    return Splits(plan.classes, part("train"), part("val"), part("test"))


def to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL image as 8-bit RGB, the one input every architecture (and pretrained weights) takes.

    - EXIF orientation is applied, so phone photos are upright as viewers show them;
    - grayscale is replicated to three channels;
    - transparency (RGBA, LA, palette with a transparent color) is composited on white: PIL's plain
      convert("RGB") drops alpha and keeps whatever color hides under transparent pixels, which
      differs from file to file; white is what a viewer (and the preview page) shows;
    - 16-bit and 32-bit grayscale are scaled to 8 bits (convert() would clip them at 255).
    """
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        img = Image.fromarray(np.clip(arr * (255.0 / top), 0, 255).round().astype(np.uint8), mode="L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


RESIZES: Registry[Callable[[Image.Image, int], Image.Image]] = Registry("resize mode")


@RESIZES.register("stretch", "the whole image, squeezed to a square")
def _stretch(img: Image.Image, size: int) -> Image.Image:
    return img.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=3.0)


@RESIZES.register("center_crop", "shorter side to the size, then the central square (ImageNet's evaluation)")
def _center_crop(img: Image.Image, size: int) -> Image.Image:
    scale = size / min(img.size)
    w, h = max(size, round(img.width * scale)), max(size, round(img.height * scale))
    img = img.resize((w, h), Image.Resampling.BILINEAR, reducing_gap=3.0)
    left, top = (w - size) // 2, (h - size) // 2
    return img.crop((left, top, left + size, top + size))


def list_resize_modes() -> list[str]:
    return RESIZES.names()


def resize_image(img: Image.Image, size: int, mode: str = "stretch") -> Image.Image:
    return RESIZES.get(mode)(img, size)


def pil_to_tensor(img: Image.Image) -> torch.Tensor:
    return TF.pil_to_tensor(img)


def load_image(path: str | Path, image_size: int, resize: str = "stretch") -> torch.Tensor:
    """One file as a uint8 tensor (3, image_size, image_size)."""
    with Image.open(path) as img:
        return pil_to_tensor(resize_image(to_rgb(img), image_size, resize))


def decoded_bytes(num_images: int, image_size: int) -> int:
    """Memory that `decode` needs for this many images: what decides between the in-memory and streaming paths."""
    return num_images * 3 * image_size * image_size


def decode(
    samples: list[Sample], image_size: int, resize: str = "stretch", threads: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode and resize once into uint8 tensors (N, 3, H, W) and int64 labels (N,).

    Threads overlap the decoding (PIL releases the GIL while it decodes and resizes); every image
    lands at its own index, so the result does not depend on their number.
    """
    images = torch.empty((len(samples), 3, image_size, image_size), dtype=torch.uint8)
    labels = torch.tensor([label for _, label in samples], dtype=torch.int64)

    def one(i: int) -> None:
        images[i] = load_image(samples[i][0], image_size, resize)

    threads = threads or min(8, os.cpu_count() or 1)
    if threads > 1 and len(samples) > 64:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(len(samples))))
    else:
        for i in range(len(samples)):
            one(i)
    return images, labels


Stats = tuple[list[float], list[float]]
IMAGENET_STATS: Stats = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])


def channel_stats(images: torch.Tensor, chunk: int = 4096) -> Stats:
    """Per-channel mean and std of uint8 images (N, 3, H, W) on the 0-1 scale, in float64 chunks
    (a float copy of a whole dataset would take four times its memory)."""
    total = torch.zeros(3, dtype=torch.float64)
    squares = torch.zeros(3, dtype=torch.float64)
    for start in range(0, len(images), chunk):
        x = images[start : start + chunk].to(torch.float64).div_(255)
        total += x.sum(dim=(0, 2, 3))
        squares += x.square().sum(dim=(0, 2, 3))
    count = max(1, images.numel() // 3)
    mean = total / count
    std = (squares / count - mean.square()).clamp_min(0).sqrt().clamp_min(1e-3)
    return mean.tolist(), std.tolist()


def compute_stats(
    samples: list[Sample], image_size: int = 64, max_images: int = 5000, seed: int = 0, resize: str = "stretch"
) -> Stats:
    """A dataset's per-channel mean and std, from at most `max_images` of its images (a seeded sample).

    For the dataset pages to compute once and store; `fit(..., stats=...)` takes the stored values.
    Resizing hardly moves these statistics, so one moderate size serves every input size.
    """
    chosen = list(samples)
    if len(chosen) > max_images:
        chosen = random.Random(seed).sample(chosen, max_images)
    return channel_stats(decode(chosen, image_size, resize)[0])


def normalize(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 (B, 3, H, W) to float, 0-1 scale, standardized per channel."""
    m = torch.tensor(mean, device=images.device).view(1, -1, 1, 1)
    s = torch.tensor(std, device=images.device).view(1, -1, 1, 1)
    return images.float().div_(255).sub_(m).div_(s)
