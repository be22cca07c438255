"""The GPU section (run only where CUDA is present): fit's GPU options against the plain fp32 loop."""

from __future__ import annotations

from training.bench.core import Figure, Result, alternate
from training.bench.workload import dataset, decoded, fit_epoch, parity_config, plain_epoch


def gpu_suite(quick: bool) -> Result:
    """Images per second of the plain loop (fp32, on the GPU's decoded data) against fit with AMP
    (bf16, fp16), channels_last and the GPU-resident batched augmentation; options are on by default
    only where they measure faster."""
    data = dataset(320 if quick else 8000)
    rounds = 2 if quick else 4
    base = parity_config(256, device="cuda")
    d = decoded(data, base.image_size)
    images = len(data.train)
    result = Result("gpu")
    variants = {
        "fit fp32": base,
        "fit bf16": base.replace(precision="bf16"),
        "fit fp16": base.replace(precision="fp16"),
        "fit bf16 channels_last": base.replace(precision="bf16", channels_last=True),
        "fit bf16 standard augmentation": base.replace(precision="bf16", augmentation="standard"),
    }
    plain_rates: list[float] = []
    for name, config in variants.items():
        plain, fitted = alternate(
            lambda: plain_epoch(base, d, device="cuda")[0], lambda c=config: fit_epoch(c, data)[0], rounds
        )
        plain_rates += [images / s for s in plain]
        result.figures.append(Figure(name, "img/s", [images / s for s in fitted]))
    result.figures.insert(0, Figure("plain loop fp32", "img/s", plain_rates))
    fp32 = result.figures[1].median
    result.ratio = result.figures[0].median / fp32 if fp32 else None
    result.notes.append("ratio: plain loop's images/s over fit fp32's (below 1: fit is faster)")
    return result
