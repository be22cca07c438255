"""Trainyard's training library: plain PyTorch, no web framework.

from training import fit, load_image_folder, resolve_config
config = resolve_config(["quick"], {"epochs": 5})
result = fit(config, load_image_folder("digits/"), callbacks=[...])
"""

from __future__ import annotations

from training.augment import augment_preview, list_augmentations
from training.callbacks import (
    BatchProgress,
    Callback,
    EpochMetrics,
    Event,
    FitResult,
    FitStart,
    Outcome,
    PrintProgress,
)
from training.config import GROUPS, ConfigError, TrainConfig
from training.data import Splits, compute_stats, load_image_folder
from training.engine import TrainingDiverged, fit
from training.layout import DatasetRejected, stratified_split
from training.models import create_model, list_models, model_info, pretrained_weights_available
from training.preflight import Preflight, preflight
from training.presets import list_presets, preset_info, resolve_config
from training.pretrained import PretrainedWeightsMissing

__all__ = [
    "GROUPS",
    "BatchProgress",
    "Callback",
    "ConfigError",
    "DatasetRejected",
    "EpochMetrics",
    "Event",
    "FitResult",
    "FitStart",
    "Outcome",
    "Preflight",
    "PretrainedWeightsMissing",
    "PrintProgress",
    "Splits",
    "TrainConfig",
    "TrainingDiverged",
    "augment_preview",
    "compute_stats",
    "create_model",
    "fit",
    "list_augmentations",
    "list_models",
    "list_presets",
    "load_image_folder",
    "model_info",
    "preflight",
    "preset_info",
    "pretrained_weights_available",
    "resolve_config",
    "stratified_split",
]
