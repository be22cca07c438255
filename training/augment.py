"""Augmentation: named operations with magnitudes, composed by a spec string into a pipeline.

A spec is a comma-separated list of operations, each with an optional magnitude, applied in order:

    "hflip,translate=0.125,rotate=15,color_jitter=0.3,erase=0.25"

Presets (`none`, `light`, `standard`, `heavy`, `randaugment`, `trivialaugment`) are named specs in a
registry; `custom` takes the spec from the config's `augment_ops`.

Every operation has two forms with the same distribution of outcomes:

- `per_image`: a torchvision `transforms.v2` transform for one image, used by the streaming
  (`DataLoader`) path, where workers augment one image at a time on CPU;
- `batched`: a whole uint8 batch `(B, 3, H, W)` at once, with its own random parameters for every
  sample, as tensor operations on whatever device the batch is on (the in-memory path, which keeps
  the dataset on the GPU when there is one). v2 transforms draw one set of parameters per call, so
  calling them on a batch would flip or rotate every image in it the same way; that is why the common
  operations have a batched form here, in the style of airbench's batched flip and crop.
  RandAugment and TrivialAugment choose a different operation per image; their batched form runs
  the v2 transform image by image on the batch's device.

All randomness of the batched form comes from the `torch.Generator` passed in, so an epoch's
augmentations are a function of its seed (the engine derives one per epoch).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from training.data import pil_to_tensor, resize_image, to_rgb
from training.registry import Registry

BILINEAR = v2.InterpolationMode.BILINEAR
GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # the coefficients torchvision's rgb_to_grayscale uses


@dataclass(frozen=True)
class Context:
    """What operations need to know about the images they augment."""

    image_size: int
    fill: tuple[int, int, int] = (128, 128, 128)  # erased pixels: the dataset's mean color, see `erase`


class AugmentOp:
    """One operation. Subclasses give the v2 form and, where it pays, a batched form."""

    # Magnitude: its default (None: the operation takes none), bounds and what it means.
    default: float | None = None
    low: float = 0.0
    high: float = 1.0
    unit: str = ""
    affine: bool = False  # batched form given as per-sample matrices, fused with neighbouring affine ops

    def per_image(self, m: float | None, ctx: Context) -> v2.Transform:
        raise NotImplementedError

    def batched(self, x: torch.Tensor, m: float | None, ctx: Context, gen: torch.Generator) -> torch.Tensor:
        """Default: the v2 transform image by image, under a seed drawn from `gen`."""
        transform = self.per_image(m, ctx)
        seed = int(torch.randint(2**62, (1,), generator=gen))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return torch.stack([transform(tv_tensors.Image(img)).as_subclass(torch.Tensor) for img in x])

    def matrices(self, n: int, m: float | None, gen: torch.Generator) -> torch.Tensor:
        """For affine ops: (n, 3, 3) maps from output to input coordinates (normalized to [-1, 1])."""
        raise NotImplementedError


OPS: Registry[AugmentOp] = Registry("augmentation operation")
AUGMENTATIONS: Registry[str | None] = Registry("augmentation preset")


def register_op(name: str, description: str):
    def decorator(cls: type[AugmentOp]) -> type[AugmentOp]:
        OPS.add(name, cls(), description)
        return cls

    return decorator


# --- random parameters, drawn on CPU from the epoch's generator, then moved to the batch's device ---
def _uniform(gen: torch.Generator, n: int, low: float, high: float) -> torch.Tensor:
    return torch.rand(n, generator=gen, dtype=torch.float64).mul_(high - low).add_(low).float()


def _chance(gen: torch.Generator, n: int, p: float, device: torch.device) -> torch.Tensor:
    return (torch.rand(n, generator=gen) < p).to(device).view(n, 1, 1, 1)


def _gray(x: torch.Tensor) -> torch.Tensor:
    w = torch.tensor(GRAY_WEIGHTS, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


@register_op("hflip", "flip left-right with probability p (not for digits or text)")
class HFlip(AugmentOp):
    default = 0.5
    unit = "probability"

    def per_image(self, m, ctx):
        return v2.RandomHorizontalFlip(m)

    def batched(self, x, m, ctx, gen):
        return torch.where(_chance(gen, len(x), m, x.device), x.flip(-1), x)


@register_op("vflip", "flip upside down with probability p (aerial, microscopy)")
class VFlip(AugmentOp):
    default = 0.5
    unit = "probability"

    def per_image(self, m, ctx):
        return v2.RandomVerticalFlip(m)

    def batched(self, x, m, ctx, gen):
        return torch.where(_chance(gen, len(x), m, x.device), x.flip(-2), x)


def _pad_pixels(fraction: float, size: int) -> int:
    return max(1, round(fraction * size))


@register_op("translate", "random crop after reflect padding by a fraction of the size (CIFAR's crop)")
class Translate(AugmentOp):
    default = 0.125  # 4 pixels at 32: the standard CIFAR recipe
    high = 0.5
    unit = "fraction of the size"

    def per_image(self, m, ctx):
        return v2.RandomCrop(ctx.image_size, padding=_pad_pixels(m, ctx.image_size), padding_mode="reflect")

    def batched(self, x, m, ctx, gen):
        # A crop of the reflect-padded image, as one gather: no padded copy of the batch, no interpolation.
        n, _, h, w = x.shape
        pad = _pad_pixels(m, ctx.image_size)
        dy = torch.randint(-pad, pad + 1, (n, 1), generator=gen).to(x.device)
        dx = torch.randint(-pad, pad + 1, (n, 1), generator=gen).to(x.device)
        rows = _reflect(torch.arange(h, device=x.device) + dy, h)  # (n, h)
        cols = _reflect(torch.arange(w, device=x.device) + dx, w)  # (n, w)
        batch = torch.arange(n, device=x.device).view(n, 1, 1)
        return x[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()


def _reflect(index: torch.Tensor, size: int) -> torch.Tensor:
    """Indices outside [0, size) mirrored back in, as reflect padding does (edge pixel not repeated)."""
    index = index.abs()
    return torch.where(index > size - 1, 2 * (size - 1) - index, index).clamp_(0, size - 1)


def _rotation(angles_deg: torch.Tensor) -> torch.Tensor:
    a = torch.deg2rad(angles_deg)
    m = torch.zeros(len(a), 3, 3)
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = a.cos(), -a.sin(), a.sin(), a.cos()
    m[:, 2, 2] = 1
    return m


@register_op("rotate", "rotate by up to ± degrees")
class Rotate(AugmentOp):
    default = 15.0
    high = 180.0
    unit = "degrees"
    affine = True

    def per_image(self, m, ctx):
        return v2.RandomRotation(m, interpolation=BILINEAR)

    def matrices(self, n, m, gen):
        return _rotation(_uniform(gen, n, -m, m))


@register_op("shear", "shear along x by up to ± degrees")
class Shear(AugmentOp):
    default = 10.0
    high = 60.0
    unit = "degrees"
    affine = True

    def per_image(self, m, ctx):
        return v2.RandomAffine(degrees=0, shear=(-m, m), interpolation=BILINEAR)

    def matrices(self, n, m, gen):
        mat = torch.eye(3).repeat(n, 1, 1)
        mat[:, 0, 1] = torch.deg2rad(_uniform(gen, n, -m, m)).tan()
        return mat


@register_op("scale", "zoom in or out by up to ± the fraction")
class Scale(AugmentOp):
    default = 0.1
    high = 0.9
    unit = "fraction"
    affine = True

    def per_image(self, m, ctx):
        return v2.RandomAffine(degrees=0, scale=(1 - m, 1 + m), interpolation=BILINEAR)

    def matrices(self, n, m, gen):
        inverse = 1 / _uniform(gen, n, 1 - m, 1 + m)  # output-to-input: zooming in by s samples 1/s of the input
        return torch.diag_embed(torch.stack([inverse, inverse, torch.ones(n)], 1))


@register_op("crop", "random resized crop keeping at least this fraction of the area (ImageNet's crop)")
class ResizedCrop(AugmentOp):
    default = 0.35
    low = 0.05
    unit = "minimum area fraction"
    affine = True

    def per_image(self, m, ctx):
        return v2.RandomResizedCrop(ctx.image_size, scale=(m, 1.0), antialias=True)

    def matrices(self, n, m, gen):
        # Area and log aspect ratio as torchvision draws them; where the box would not fit, torchvision
        # draws again (up to 10 times), here its sides are clipped to the image instead.
        area = _uniform(gen, n, m, 1.0)
        ratio = torch.exp(_uniform(gen, n, math.log(3 / 4), math.log(4 / 3)))
        w = (area * ratio).sqrt().clamp(max=1.0)
        h = (area / ratio).sqrt().clamp(max=1.0)
        cx = _uniform(gen, n, -1.0, 1.0) * (1 - w)
        cy = _uniform(gen, n, -1.0, 1.0) * (1 - h)
        mat = torch.diag_embed(torch.stack([w, h, torch.ones(n)], 1))
        mat[:, 0, 2], mat[:, 1, 2] = cx, cy
        return mat


def _apply_affine(x: torch.Tensor, mats: torch.Tensor) -> torch.Tensor:
    theta = mats[:, :2, :].to(x.device)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.round_().clamp_(0, 255).to(torch.uint8)


@register_op("color_jitter", "brightness, contrast and saturation each scaled by up to ± the strength")
class ColorJitter(AugmentOp):
    default = 0.3
    unit = "strength"

    def per_image(self, m, ctx):
        return v2.ColorJitter(brightness=m, contrast=m, saturation=m)

    def batched(self, x, m, ctx, gen):
        # torchvision applies the three in a random order per call; here always brightness, contrast,
        # saturation, with a factor per sample each.
        n = len(x)
        factors = [_uniform(gen, n, max(0.0, 1 - m), 1 + m).to(x.device).view(n, 1, 1, 1) for _ in range(3)]
        y = x.float().div_(255)
        y = (y * factors[0]).clamp_(0, 1)
        mean = _gray(y).mean(dim=(1, 2, 3), keepdim=True)
        y = ((y - mean) * factors[1] + mean).clamp_(0, 1)
        gray = _gray(y)
        y = ((y - gray) * factors[2] + gray).clamp_(0, 1)
        return y.mul_(255).round_().to(torch.uint8)


@register_op("grayscale", "drop the color with probability p")
class Grayscale(AugmentOp):
    default = 0.1
    unit = "probability"

    def per_image(self, m, ctx):
        return v2.RandomGrayscale(m)

    def batched(self, x, m, ctx, gen):
        gray = _gray(x.float()).round_().to(torch.uint8).expand_as(x)
        return torch.where(_chance(gen, len(x), m, x.device), gray, x)


@register_op("erase", "erase a random rectangle (2-33% of the area) with probability p (random erasing)")
class Erase(AugmentOp):
    default = 0.25
    unit = "probability"

    def per_image(self, m, ctx):
        # Filled with the dataset's mean color: after normalization that is 0, as in torchvision's
        # reference recipes, which erase after normalizing.
        return v2.RandomErasing(m, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=list(ctx.fill))

    def batched(self, x, m, ctx, gen):
        n, _, h, w = x.shape
        area = _uniform(gen, n, 0.02, 0.33) * h * w
        ratio = torch.exp(_uniform(gen, n, math.log(0.3), math.log(3.3)))
        eh = (area * ratio).sqrt().round().clamp(1, h).long()
        ew = (area / ratio).sqrt().round().clamp(1, w).long()
        top = (torch.rand(n, generator=gen) * (h - eh + 1)).long()
        left = (torch.rand(n, generator=gen) * (w - ew + 1)).long()
        apply = torch.rand(n, generator=gen) < m
        top, left, eh, ew, apply = (t.to(x.device).view(n, 1, 1) for t in (top, left, eh, ew, apply))
        rows = torch.arange(h, device=x.device).view(1, h, 1)
        cols = torch.arange(w, device=x.device).view(1, 1, w)
        inside = (rows >= top) & (rows < top + eh) & (cols >= left) & (cols < left + ew) & apply
        fill = torch.tensor(ctx.fill, dtype=torch.uint8, device=x.device).view(1, 3, 1, 1)
        return torch.where(inside.unsqueeze(1), fill, x)


@register_op("randaugment", "RandAugment: 2 random operations per image at this magnitude (0-30)")
class RandAugment(AugmentOp):
    default = 9.0
    high = 30.0
    unit = "magnitude"

    def per_image(self, m, ctx):
        return v2.RandAugment(num_ops=2, magnitude=round(m))


@register_op("trivialaugment", "TrivialAugment: one random operation per image at a random magnitude")
class TrivialAugment(AugmentOp):
    def per_image(self, m, ctx):
        return v2.TrivialAugmentWide()


# --- specs ----------------------------------------------------------------------------------------
def parse_spec(spec: str) -> list[tuple[str, float | None]]:
    """'hflip,rotate=15' -> [('hflip', 0.5), ('rotate', 15.0)]; raise ValueError naming the problem."""
    ops: list[tuple[str, float | None]] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, sep, raw = (s.strip() for s in part.partition("="))
        if name not in OPS:
            raise ValueError(f"unknown operation {name!r}; choose from: {', '.join(OPS.names())}")
        op = OPS.get(name)
        if op.default is None:
            if sep:
                raise ValueError(f"{name} takes no value")
            ops.append((name, None))
            continue
        if not sep:
            ops.append((name, op.default))
            continue
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{name}={raw!r}: the {op.unit} must be a number") from None
        if not (op.low <= value <= op.high) or not math.isfinite(value):
            raise ValueError(f"{name}={raw}: the {op.unit} must be between {op.low:g} and {op.high:g}")
        ops.append((name, value))
    return ops


def describe_ops() -> list[dict]:
    """The operations a custom spec may use, for help texts."""
    return [
        {
            "name": e.name,
            "description": e.description,
            "default": e.obj.default,
            "min": e.obj.low,
            "max": e.obj.high,
            "unit": e.obj.unit,
        }
        for e in OPS.entries()
    ]


class Augmenter:
    """A parsed spec bound to an image size: `per_image()` for the streaming path, call for batches."""

    def __init__(self, spec: str, ctx: Context) -> None:
        self.spec = spec
        self.ctx = ctx
        self.ops = [(OPS.get(name), m) for name, m in parse_spec(spec)]

    def __bool__(self) -> bool:
        return bool(self.ops)

    @property
    def thread_safe(self) -> bool:
        """Whether every operation draws only from the generator passed in (so it may run on another
        thread than the training's): the default batched form seeds the global RNG, which is shared."""
        return all(op.affine or type(op).batched is not AugmentOp.batched for op, _ in self.ops)

    def per_image(self) -> v2.Transform:
        return v2.Compose([op.per_image(m, self.ctx) for op, m in self.ops]) if self.ops else v2.Identity()

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Augment a uint8 batch (B, 3, H, W) on its own device; each sample gets its own parameters."""
        pending: torch.Tensor | None = None  # consecutive affine ops are fused: one interpolation, not several
        for op, m in self.ops:
            if op.affine:
                mats = op.matrices(len(x), m, gen)
                pending = mats if pending is None else pending @ mats
                continue
            if pending is not None:
                x, pending = _apply_affine(x, pending), None
            x = op.batched(x, m, self.ctx, gen)
        return _apply_affine(x, pending) if pending is not None else x


# --- presets --------------------------------------------------------------------------------------
AUGMENTATIONS.add("none", "", "no augmentation")
AUGMENTATIONS.add("light", "hflip", "random horizontal flips")
AUGMENTATIONS.add(
    "standard", "hflip,translate=0.125,rotate=10", "flips, random crop (translation) and a small rotation"
)
AUGMENTATIONS.add(
    "heavy",
    "hflip,translate=0.125,rotate=20,shear=10,color_jitter=0.3,erase=0.25",
    "standard plus more rotation, shear, color jitter and random erasing",
)
AUGMENTATIONS.add("randaugment", "hflip,translate=0.125,randaugment=9", "flips, crop and torchvision's RandAugment")
AUGMENTATIONS.add(
    "trivialaugment", "hflip,translate=0.125,trivialaugment", "flips, crop and torchvision's TrivialAugment"
)
AUGMENTATIONS.add("custom", None, "the operations listed in augment_ops")


def list_augmentations() -> list[str]:
    return AUGMENTATIONS.names()


def augmentation_spec(preset: str, custom_ops: str = "") -> str:
    spec = AUGMENTATIONS.get(preset)
    return custom_ops if spec is None else spec


def build_augmenter(
    preset: str, image_size: int, custom_ops: str = "", fill: Sequence[int] = Context.fill
) -> Augmenter:
    return Augmenter(augmentation_spec(preset, custom_ops), Context(image_size, tuple(int(v) for v in fill)))


def augment_preview(
    images: Sequence[Image.Image], preset: str, n: int, image_size: int, seed: int = 0, custom_ops: str = ""
) -> list[list[Image.Image]]:
    """N augmented versions of each image, exactly as the in-memory training path makes them.

    Images are converted and resized as training does (`data.to_rgb`, stretched to image_size).
    Returns one list of n PIL images per input image; the same seed gives the same pictures.
    """
    augmenter = build_augmenter(preset, image_size, custom_ops)
    gen = torch.Generator().manual_seed(seed)
    out = []
    for img in images:
        x = pil_to_tensor(resize_image(to_rgb(img), image_size)).unsqueeze(0).repeat(n, 1, 1, 1)
        out.append([TF.to_pil_image(a) for a in augmenter(x, gen)])
    return out
