"""Pretrained ImageNet weights, from the local torch cache only.

Workers often have no internet, so nothing here downloads. A weights file is looked for where
torchvision's weights API would have downloaded it: `<torch hub dir>/checkpoints/<file name of the
weights URL>`, where the hub dir is `$TORCH_HOME/hub` (default `~/.cache/torch/hub`). When it is not
there, the run fails before any training, with a message naming the file, the folder and the URL.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import torch
from torchvision.models import get_weight


class PretrainedWeightsMissing(FileNotFoundError):
    """The weights file a config asks for is not in the local torch cache."""


def weights_file(weights_name: str) -> Path:
    """Where the file of e.g. 'ResNet18_Weights.IMAGENET1K_V1' must be (read at call time: honours TORCH_HOME)."""
    url = get_weight(weights_name).url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def missing_message(weights_name: str) -> str:
    path = weights_file(weights_name)
    return (
        f"pretrained weights {weights_name} are not in the local torch cache: put the file {path.name} "
        f"in the torch cache's hub/checkpoints folder ({path.parent}; the TORCH_HOME variable sets where the "
        f"cache is), downloaded from {get_weight(weights_name).url} on a machine with internet"
    )


def weights_available(weights_name: str) -> tuple[bool, str]:
    path = weights_file(weights_name)
    if path.is_file():
        return True, f"pretrained weights {weights_name}: {path}"
    return False, missing_message(weights_name)


def load_weights(weights_name: str) -> dict[str, torch.Tensor]:
    """The state dict of a cached weights file; PretrainedWeightsMissing when it is not cached."""
    path = weights_file(weights_name)
    if not path.is_file():
        raise PretrainedWeightsMissing(missing_message(weights_name))
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: say which one, and what to do
        raise PretrainedWeightsMissing(
            f"could not read pretrained weights from {path} ({type(exc).__name__}: {exc}); "
            f"replace it with the file from {get_weight(weights_name).url}"
        ) from exc
