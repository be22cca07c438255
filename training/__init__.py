"""Trainyard's training library: plain PyTorch, no web framework.

    from training import TrainConfig, fit, load_image_folder
    result = fit(TrainConfig.from_dict({"epochs": 5}), load_image_folder("digits/"), callbacks=[...])
"""
from __future__ import annotations

from training.callbacks import BatchProgress, Callback, EpochMetrics, FitResult, FitStart, PrintProgress
from training.config import ConfigError, TrainConfig
from training.data import Splits, load_image_folder
from training.engine import fit
from training.models import create_model, list_models

__all__ = [
    "BatchProgress", "Callback", "ConfigError", "EpochMetrics", "FitResult", "FitStart", "PrintProgress",
    "Splits", "TrainConfig", "create_model", "fit", "list_models", "load_image_folder",
]
