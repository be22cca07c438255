"""What makes an upload unacceptable, and the message that says so.

Every check adds the offending entries under a named problem; the rejection message lists each
problem with the first few entries it concerns, so a user can fix the archive in one go instead of
re-uploading once per mistake.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

# The rejection and its collected problems are the training library's (its layout rules raise them).
from training.layout import DatasetRejected, Problems, listing

__all__ = ["DatasetRejected", "Limits", "Problems", "listing", "size_text"]


@dataclass(frozen=True)
class Limits:
    max_entries: int
    max_bytes: int
    max_ratio: int
    max_pixels: int
    min_per_class: int
    ratio_applies_from: int = 2**20  # bytes; a 200-byte file "compressed" to 40 is not a bomb

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            max_entries=settings.DATASET_MAX_ENTRIES,
            max_bytes=settings.DATASET_MAX_BYTES,
            max_ratio=settings.DATASET_MAX_RATIO,
            max_pixels=settings.DATASET_MAX_PIXELS,
            min_per_class=settings.DATASET_MIN_IMAGES_PER_CLASS,
        )


def size_text(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")
