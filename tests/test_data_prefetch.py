"""The memory path's prefetching: the next batch is augmented on a thread of its own while the current
one trains. The same batches in the same order as without it, and the thread ends with the loop (a
normal end, an early stop, an exception in the loop or in the source)."""

from __future__ import annotations

import threading
from contextlib import closing

import pytest
import torch

from training.augment import build_augmenter
from training.bench.workload import dataset, parity_config
from training.loaders import InMemoryBatches, prefetched


def _prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "prefetch"]


@pytest.fixture(scope="module")
def batches() -> InMemoryBatches:
    data = dataset(96)
    config = parity_config(16, augmentation="standard")
    b = InMemoryBatches(config, data, torch.device("cpu"))
    b.set_augmenter(build_augmenter("standard", config.image_size))
    return b


def test_it_yields_the_same_augmented_batches_in_the_same_order(batches):
    assert batches.augmenter.thread_safe
    batches.prefetch = False
    plain = list(batches.train(7))
    batches.prefetch = True
    ahead = batches.train(7)
    assert not isinstance(ahead, list) and ahead.__name__ == "prefetched"
    fetched = list(ahead)
    assert len(fetched) == len(plain) == batches.train_steps()
    for (x1, y1), (x2, y2) in zip(plain, fetched, strict=True):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not _prefetch_threads()


def test_randaugment_which_seeds_the_global_rng_is_not_prefetched(batches):
    saved = batches.augmenter
    batches.set_augmenter(build_augmenter("randaugment", 32))
    try:
        assert not batches.augmenter.thread_safe
        assert batches.train(0).__name__ == "_train"
    finally:
        batches.set_augmenter(saved)


def test_an_early_stop_ends_the_thread(batches):
    with closing(batches.train(1)) as it:
        next(it)
        assert len(_prefetch_threads()) == 1
    assert not _prefetch_threads()


def test_an_exception_in_the_loop_ends_the_thread(batches):
    with pytest.raises(RuntimeError, match="diverged"), closing(batches.train(2)) as it:
        for _ in it:
            raise RuntimeError("diverged")
    assert not _prefetch_threads()


def test_an_exception_in_the_source_reaches_the_caller_in_order():
    closed = []

    def source():
        try:
            yield 1
            yield 2
            raise ValueError("bad image")
        finally:
            closed.append(True)

    got = []
    with pytest.raises(ValueError, match="bad image"):
        for item in prefetched(source()):
            got.append(item)
    assert got == [1, 2] and closed == [True]
    assert not _prefetch_threads()


def test_fit_with_prefetching_gives_the_loss_it_gave_without(monkeypatch):
    from training import fit

    data = dataset(64)
    config = parity_config(16, augmentation="standard", epochs=2, data_loading="memory")
    with_prefetch = [m.train_loss for m in fit(config, data).history]
    monkeypatch.setattr(InMemoryBatches, "train", InMemoryBatches._train)
    without = [m.train_loss for m in fit(config, data).history]
    assert with_prefetch == without
    assert not _prefetch_threads()
