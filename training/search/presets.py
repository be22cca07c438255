"""Ready-made search spaces in a registry (the web form offers them; `--space-preset NAME` on the command line).

Each is a starting point to edit: the ranges are where good values usually lie for the small CNNs and
ResNets this library trains, wide enough that a sweep can find the edge.
"""

from __future__ import annotations

from typing import Any

from training.registry import Registry
from training.search.space import SearchSpace, SpaceError

SPACE_PRESETS: Registry[dict[str, Any]] = Registry("search space preset")


def space_preset(name: str, description: str, space: dict[str, Any]) -> None:
    SearchSpace.parse(space)  # a broken preset fails at import, not in a user's sweep
    SPACE_PRESETS.add(name, space, description)


def list_space_presets() -> list[dict[str, Any]]:
    """Each preset's name, description and space (JSON)."""
    return [{"name": e.name, "description": e.description, "space": e.obj} for e in SPACE_PRESETS.entries()]


def space_from_preset(name: str) -> SearchSpace:
    """The preset's space; SpaceError for an unknown name."""
    if name not in SPACE_PRESETS:
        choices = ", ".join(SPACE_PRESETS.names())
        raise SpaceError({"space_preset": f"unknown search space preset {name!r}; choose one of: {choices}"})
    return SearchSpace.parse(SPACE_PRESETS.get(name))


space_preset(
    "lr-weight-decay",
    "Learning rate and weight decay, both log-uniform: the two values that matter most for any recipe",
    {
        "lr": {"low": 3e-4, "high": 3e-2, "log": True},
        "weight_decay": {"low": 1e-6, "high": 1e-2, "log": True},
    },
)
space_preset(
    "optimizer-schedule",
    "Optimizer and schedule: momentum and Nesterov only for SGD (and momentum for RMSprop), "
    "step settings only for the step schedule",
    {
        "optimizer": ["sgd", "adamw", "adam", "rmsprop"],
        "lr": {"low": 1e-4, "high": 0.3, "log": True},
        "momentum": {"low": 0.8, "high": 0.99, "when": {"optimizer": ["sgd", "rmsprop"]}},
        "nesterov": {"values": [True, False], "when": {"optimizer": ["sgd"]}},
        "scheduler": ["cosine", "onecycle", "step", "plateau"],
        "lr_step_epochs": {"low": 2, "high": 10, "when": {"scheduler": ["step"]}},
        "lr_gamma": {"values": [0.1, 0.3, 0.5], "when": {"scheduler": ["step", "plateau"]}},
    },
)
space_preset(
    "architecture-augmentation",
    "Architecture and augmentation: depth and width of the small CNN (only when it is chosen), "
    "batch norm, dropout and the augmentation preset",
    {
        "arch": ["small_cnn", "resnet18"],
        "depth": {"low": 2, "high": 5, "when": {"arch": ["small_cnn"]}},
        "width": {"values": [16, 32, 64], "when": {"arch": ["small_cnn"]}},
        "dropout": {"low": 0.0, "high": 0.5},
        "augmentation": ["none", "light", "standard", "trivialaugment"],
    },
)
space_preset(
    "regularization",
    "Regularization: dropout, L2 weight decay (log-uniform) and label smoothing",
    {
        "dropout": {"low": 0.0, "high": 0.5},
        "weight_decay": {"low": 1e-6, "high": 1e-2, "log": True},
        "label_smoothing": {"low": 0.0, "high": 0.2},
    },
)
space_preset(
    "batch-size-epochs",
    "Batch size (log-uniform, 16 to 256) and the number of epochs (in steps of 5)",
    {
        "batch_size": {"low": 16, "high": 256, "log": True},
        "epochs": {"low": 5, "high": 30, "step": 5},
    },
)
space_preset(
    "transfer",
    "Transfer learning from pretrained weights: what trains, and the backbone's rate factor only for the "
    "modes that use it",
    {
        "transfer_mode": ["full", "feature_extract", "lower_backbone_lr", "gradual_unfreeze"],
        "backbone_lr_factor": {
            "low": 0.01,
            "high": 1.0,
            "log": True,
            "when": {"transfer_mode": ["lower_backbone_lr", "gradual_unfreeze"]},
        },
        "lr": {"low": 1e-4, "high": 1e-2, "log": True},
    },
)
