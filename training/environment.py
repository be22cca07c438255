"""What a run ran on, for reproducibility: versions, device and host (recorded with every run)."""

from __future__ import annotations

import platform
import socket
import sys
from importlib import metadata

import torch
import torchvision

PROJECT = "trainyard"


def project_version() -> str:
    try:
        return metadata.version(PROJECT)
    except metadata.PackageNotFoundError:
        return "unknown"


def device_name(device: str | torch.device = "cpu") -> str:
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine() or "cpu"


def environment(device: str | torch.device = "cpu") -> dict[str, str | None]:
    """Python, torch, torchvision and CUDA versions, the device's name, the host and this project's version."""
    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cuda": torch.version.cuda,
        "device": str(torch.device(device)),
        "device_name": device_name(device),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "trainyard": project_version(),
    }
