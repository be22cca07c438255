"""Batches for the training loop, from one of two data paths with the same interface.

- `memory`: the dataset is decoded once into uint8 tensors (on the GPU when there is one) and every
  batch is cut, augmented and normalized there as tensor operations, as the fastest CIFAR-10
  training code (airbench) does: no loader processes, no host-to-device copies per batch.
- `stream`: for datasets whose decoded size is over the config's `memory_limit_mb`, a `Dataset`
  decodes and augments one image at a time in `DataLoader` worker processes (CPU), with pinned
  memory and non-blocking copies to the GPU.

Both yield uint8 batches `(B, 3, S, S)` on the training device and int64 labels; the engine
normalizes them. Each epoch's shuffle and augmentations come from that epoch's seed, so a resumed
run sees the same batches as an uninterrupted one.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol, TypeVar

import psutil
import torch
from torch.utils.data import DataLoader, Dataset

from training.augment import Augmenter
from training.data import Sample, Splits, decode, decoded_bytes, load_image
from training.layout import SPLITS
from training.registry import Registry
from training.steps import steps_per_epoch

if TYPE_CHECKING:
    from training.config import TrainConfig

Batch = tuple[torch.Tensor, torch.Tensor]
T = TypeVar("T")


class Batches(Protocol):
    def set_augmenter(self, augmenter: Augmenter) -> None: ...

    def train_steps(self) -> int: ...

    def train(self, seed: int) -> Iterator[Batch]: ...

    def eval(self, split: str) -> Iterator[Batch]: ...

    def size(self, split: str) -> int: ...


DATA_PATHS: Registry[type] = Registry("data path")


train_steps = steps_per_epoch  # full batches only: see training.steps


def available_memory() -> int:
    """Bytes of RAM this machine can still give without swapping."""
    return psutil.virtual_memory().available


def choose_data_path(config: TrainConfig, data: Splits, device: torch.device | None = None) -> str:
    """The config's data path; for "auto", memory when the decoded dataset fits the memory limit and half
    the free RAM (and, on a GPU, a quarter of its free memory: the rest is for the model and activations)."""
    if config.data_loading != "auto":
        return config.data_loading
    budget = min(config.memory_limit_mb * 2**20, available_memory() // 2)
    if device is not None and device.type == "cuda":
        budget = min(budget, torch.cuda.mem_get_info(device)[0] // 4)
    total = len(data.train) + len(data.val) + len(data.test)
    return "memory" if decoded_bytes(total, config.image_size) <= budget else "stream"


def build_batches(config: TrainConfig, data: Splits, device: torch.device, path: str) -> Batches:
    """The data path's batches, without augmentation until `set_augmenter` (which needs the statistics
    that, on the memory path, are computed from the decoded images)."""
    return DATA_PATHS.get(path)(config, data, device)


_END = object()


def prefetched(source: Iterator[T], name: str = "prefetch") -> Iterator[T]:
    """`source`'s items in the same order, each made on a background thread while the caller works on
    the one before (one item ahead). An exception in `source` is raised here; closing this generator
    (early stop, an exception in the caller's loop, `contextlib.closing`) stops and joins the thread."""
    ready: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def fill() -> None:
        try:
            for item in source:
                if not put((item, None)):
                    return
            put((_END, None))
        except BaseException as exc:  # handed to the caller, raised there
            put((_END, exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=fill, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item, error = ready.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        thread.join()


@DATA_PATHS.register("memory", "decoded once into uint8 tensors, augmented in batches on the training device")
class InMemoryBatches:
    def __init__(self, config: TrainConfig, data: Splits, device: torch.device) -> None:
        self.batch_size = config.batch_size
        self.device = device
        self.prefetch = True  # see `train`
        self.augmenter: Augmenter | None = None
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for name in SPLITS:
            x, y = decode(getattr(data, name), config.image_size, config.resize)
            # On a GPU the whole dataset lives in device memory: batches never wait on the host.
            self.splits[name] = (x.to(device), y.to(device))

    def set_augmenter(self, augmenter: Augmenter) -> None:
        self.augmenter = augmenter if augmenter else None

    def size(self, split: str) -> int:
        return len(self.splits[split][1])

    def train_steps(self) -> int:
        return train_steps(self.size("train"), self.batch_size)

    def train(self, seed: int) -> Iterator[Batch]:
        """The epoch's batches. With augmentation on CPU, the next batch is cut and augmented on a
        thread of its own while the current one trains (torch ops release the GIL); the batches and
        their order are the same either way (the epoch's generator is used by that thread alone)."""
        batches = self._train(seed)
        if self.prefetch and self.augmenter and self.augmenter.thread_safe and self.device.type == "cpu":
            return prefetched(batches)
        return batches

    def _train(self, seed: int) -> Iterator[Batch]:
        x, y = self.splits["train"]
        gen = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(y), generator=gen).to(y.device)
        bs = min(self.batch_size, len(y))
        for step in range(self.train_steps()):
            idx = order[step * bs : (step + 1) * bs]
            batch = x[idx]
            if self.augmenter:
                batch = self.augmenter(batch, gen)
            yield batch, y[idx]

    def eval(self, split: str) -> Iterator[Batch]:
        x, y = self.splits[split]
        for start in range(0, len(y), self.batch_size):
            yield x[start : start + self.batch_size], y[start : start + self.batch_size]

    def train_images(self) -> torch.Tensor:
        return self.splits["train"][0]


class ImageFiles(Dataset):
    """Image files decoded on demand (in loader workers), with a per-image transform."""

    def __init__(self, samples: list[Sample], image_size: int, resize: str, transform=None) -> None:
        self.samples = samples
        self.image_size = image_size
        self.resize = resize
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Batch:
        path, label = self.samples[index]
        image = load_image(path, self.image_size, self.resize)
        if self.transform is not None:
            image = self.transform(image)
        return image, torch.tensor(label)


@DATA_PATHS.register("stream", "decoded and augmented image by image in DataLoader workers")
class StreamingBatches:
    def __init__(self, config: TrainConfig, data: Splits, device: torch.device) -> None:
        self.batch_size = config.batch_size
        self.device = device
        self.num_workers = config.num_workers
        self.datasets = {
            "train": ImageFiles(data.train, config.image_size, config.resize),
            "val": ImageFiles(data.val, config.image_size, config.resize),
            "test": ImageFiles(data.test, config.image_size, config.resize),
        }

    def set_augmenter(self, augmenter: Augmenter) -> None:
        self.datasets["train"].transform = augmenter.per_image() if augmenter else None

    def size(self, split: str) -> int:
        return len(self.datasets[split])

    def train_steps(self) -> int:
        return train_steps(self.size("train"), self.batch_size)

    def _loader(self, split: str, shuffle: bool, seed: int = 0) -> DataLoader:
        dataset = self.datasets[split]
        gen = torch.Generator().manual_seed(seed)
        # The same permutation as the memory path draws from the same seed: without augmentation both
        # paths train on the same batches. The generator then fixes every worker's seed.
        order = torch.randperm(len(dataset), generator=gen).tolist() if shuffle else range(len(dataset))
        return DataLoader(
            dataset,
            batch_size=min(self.batch_size, max(1, len(dataset))),
            sampler=order,
            drop_last=shuffle and len(dataset) >= self.batch_size,
            generator=gen,
            num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda",
            prefetch_factor=4 if self.num_workers else None,
        )

    def _to_device(self, loader: DataLoader) -> Iterator[Batch]:
        for x, y in loader:
            yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    def train(self, seed: int) -> Iterator[Batch]:
        # One loader per epoch: worker start-up costs a moment per epoch, and in exchange an epoch's
        # worker seeds depend on nothing but the epoch's seed (exact resume).
        return self._to_device(self._loader("train", True, seed))

    def eval(self, split: str) -> Iterator[Batch]:
        return self._to_device(self._loader(split, False))
