"""What makes an upload unacceptable, and the message that says so.

Every check adds the offending entries under a named problem; the rejection message lists each
problem with the first few entries it concerns, so a user can fix the archive in one go instead of
re-uploading once per mistake.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings

SHOWN_ENTRIES = 8  # entries named per problem in a message; the rest are counted


class DatasetRejected(ValueError):
    """Input that cannot become a dataset. The message is for the user and names what to fix."""


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


def listing(items: Iterable[str], shown: int = SHOWN_ENTRIES) -> str:
    items = list(items)
    head = ", ".join(items[:shown])
    return head if len(items) <= shown else f"{head} and {len(items) - shown:,} more"


def size_text(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


class Problems:
    """Collects the offending entries per problem; `raise_if_any()` rejects with all of them."""

    def __init__(self) -> None:
        self._found: dict[str, list[str]] = {}

    def add(self, problem: str, entry: str) -> None:
        self._found.setdefault(problem, []).append(entry)

    def __bool__(self) -> bool:
        return bool(self._found)

    def message(self) -> str:
        """One line per problem: "Corrupt or truncated images (2): cats/a.png, dogs/b.jpg." """
        return "\n".join(
            f"{problem[:1].upper()}{problem[1:]} ({len(entries):,}): {listing(entries)}."
            for problem, entries in self._found.items()
        )

    def raise_if_any(self) -> None:
        if self._found:
            raise DatasetRejected(self.message())
