"""A run's length in optimizer steps: what a config will make of a training split of a given size.

One optimizer step per training batch; full batches only (the last partial one is dropped, a different
one every epoch), so `steps_per_epoch(117, 64)` is 1 and eight epochs are eight steps. The data paths
(`training.loaders`), the preflight, the presets' adaptation and every page that shows a run's length
count them here.
"""

from __future__ import annotations


def steps_per_epoch(num_train: int, batch_size: int) -> int:
    # A batch of one image breaks batch norm and a tiny one gives a noisy step, hence full batches only.
    # A split smaller than one batch is one batch.
    return max(1, num_train // batch_size)


def total_steps(num_train: int, batch_size: int, epochs: int) -> int:
    """Optimizer steps in the whole run (at most that many with early stopping)."""
    return steps_per_epoch(num_train, batch_size) * epochs


def describe_steps(num_train: int, batch_size: int, epochs: int) -> str:
    """In words: "152 optimizer steps in total (19 per epoch: 1,259 training images in batches of 64, 8 epochs)"."""
    per_epoch = steps_per_epoch(num_train, batch_size)
    total = per_epoch * epochs
    return (
        f"{total:,} optimizer step{'s' if total != 1 else ''} in total ({per_epoch:,} per epoch: "
        f"{num_train:,} training images in batches of {batch_size}, {epochs} epoch{'s' if epochs != 1 else ''})"
    )


def steps_info(num_train: int, batch_size: int, epochs: int) -> dict[str, int | str]:
    """A run's length for pages and JSON: steps per epoch, in total, the training images, in words."""
    return {
        "per_epoch": steps_per_epoch(num_train, batch_size),
        "total": total_steps(num_train, batch_size, epochs),
        "train_images": num_train,
        "text": describe_steps(num_train, batch_size, epochs),
    }
