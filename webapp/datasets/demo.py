"""The demo dataset, made without any download: scikit-learn's bundled handwritten digits
(1,797 grayscale 8x8 images, 10 classes) written as an ordinary image folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

DEMO_NAME = "Handwritten digits (demo)"


def write_digits_folder(root: Path) -> Path:
    from sklearn.datasets import load_digits

    digits = load_digits()
    root.mkdir(parents=True, exist_ok=True)
    for i, (pixels, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        folder = root / str(label)
        folder.mkdir(exist_ok=True)
        # Pixel values are 0-16; scale to 0-255 grayscale.
        Image.fromarray(np.round(pixels * (255 / 16)).astype(np.uint8), mode="L").save(folder / f"{i:04d}.png")
    return root
