"""Architectures: a registry read through `list_models()` and `create_model(name, num_classes, ...)`.

Every builder takes `(num_classes, image_size, pretrained, dropout, batch_norm, depth, width)` and
ignores what does not apply to it. With `pretrained=True` it must build the exact ImageNet layout
that torchvision's weights fit; `create_model` then loads the cached weights and puts a new head on.

Small inputs: the ImageNet stems (a stride-2 7x7 conv and a max pool, or a stride-2 3x3 conv) shrink
a 32-pixel image to 8 pixels before the first block. Below 96 pixels, models trained from scratch get
the variants practitioners use for CIFAR-sized images: a stride-1 3x3 stem without the pool (ResNet,
GoogLeNet), a stride-1 first conv (MobileNetV3, EfficientNet), and a 512-wide linear head on globally
pooled features instead of the 7x7x512 -> 4096 -> 4096 classifier (VGG). Pretrained models keep the
ImageNet stems their weights were trained with; they need at least 32 pixels (Inception-v3: 75).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torchvision import models as tvm
from torchvision.models.googlenet import BasicConv2d

from training.pretrained import load_weights, weights_available
from training.registry import Registry

ModelBuilder = Callable[..., nn.Module]
MODELS: Registry[ModelBuilder] = Registry("architecture")
SMALL_INPUT = 96  # below this many pixels, models trained from scratch get their small-input variant
IMAGENET_CLASSES = 1000


def register_model(
    name: str,
    description: str = "",
    min_input_size: int = 8,
    *,
    min_pretrained_input_size: int = 32,
    weights: str | dict[bool, str] | None = None,
    batch_norm_optional: bool = False,
    input_size: int = 224,
    **info: Any,
) -> Callable[[ModelBuilder], ModelBuilder]:
    """Register a builder `fn(num_classes, image_size, pretrained=False, **options) -> nn.Module`.

    weights: the torchvision weights enum name, or one per batch-norm setting ({True: ..., False: ...});
    input_size: the size the pretrained weights were trained at (a recommendation for transfer).
    """
    return MODELS.register(
        name,
        description,
        min_input_size=min_input_size,
        min_pretrained_input_size=min_pretrained_input_size,
        weights=weights,
        batch_norm_optional=batch_norm_optional,
        input_size=input_size,
        **info,
    )


def list_models() -> list[str]:
    return MODELS.names()


def model_info(name: str) -> dict[str, Any]:
    entry = MODELS.entry(name)
    return {"name": entry.name, "description": entry.description, **entry.info}


def min_input_size(name: str, pretrained: bool = False) -> int:
    info = MODELS.entry(name).info
    return max(info["min_input_size"], info["min_pretrained_input_size"]) if pretrained else info["min_input_size"]


def weights_name(name: str, batch_norm: bool = True) -> str | None:
    """The torchvision weights enum name for this architecture (None: it has no pretrained weights)."""
    weights = MODELS.entry(name).info.get("weights")
    return weights[batch_norm] if isinstance(weights, dict) else weights


def pretrained_weights_available(arch: str, batch_norm: bool = True) -> tuple[bool, str]:
    """(True, where the file is) or (False, which file to put where): for the web form, before a run."""
    name = weights_name(arch, batch_norm)
    if name is None:
        return False, f"{arch} has no pretrained weights"
    return weights_available(name)


def create_model(
    name: str, num_classes: int, image_size: int = 32, *, pretrained: bool = False, **options: Any
) -> nn.Module:
    """Build `name` with a head of `num_classes` outputs.

    pretrained: load ImageNet weights from the local torch cache (PretrainedWeightsMissing when the
    file is not there), then replace the 1000-class head with a new one.
    """
    entry = MODELS.entry(name)
    minimum = min_input_size(name, pretrained)
    if image_size < minimum:
        raise ValueError(f"{name} needs inputs of at least {minimum}x{minimum} pixels, not {image_size}")
    if not pretrained:
        return entry.obj(num_classes=num_classes, image_size=image_size, pretrained=False, **options)
    weights = weights_name(name, options.get("batch_norm", True))
    if weights is None:
        raise ValueError(f"{name} has no pretrained weights")
    state = load_weights(weights)  # first: a missing file fails before anything is built
    model = entry.obj(num_classes=IMAGENET_CLASSES, image_size=image_size, pretrained=True, **options)
    model.load_state_dict(state)
    _drop_auxiliary_classifiers(model)
    replace_head(model, num_classes)
    return model


def create_trained_layout(
    name: str, num_classes: int, image_size: int = 32, *, pretrained: bool = False, **options: Any
) -> nn.Module:
    """The architecture a run trained, for loading its saved weights: the same layout `create_model`
    built (with `pretrained`, the ImageNet layout and a new head, even below 96 pixels), without
    loading any ImageNet weights (the saved state_dict replaces them all)."""
    if not pretrained:
        return create_model(name, num_classes, image_size, **options)
    model = MODELS.get(name)(num_classes=IMAGENET_CLASSES, image_size=image_size, pretrained=True, **options)
    _drop_auxiliary_classifiers(model)
    replace_head(model, num_classes)
    return model


# --- heads and stages, for transfer learning -------------------------------------------------------
def classifier_head(model: nn.Module) -> tuple[str, nn.Linear]:
    """The final linear layer (the part replaced for new classes): the last Linear registered."""
    found = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not found:
        raise ValueError(f"{type(model).__name__} has no linear classifier head")
    return found[-1]


def replace_head(model: nn.Module, num_outputs: int) -> nn.Linear:
    path, old = classifier_head(model)
    new = nn.Linear(old.in_features, num_outputs)
    parent_path, _, attr = path.rpartition(".")
    setattr(model.get_submodule(parent_path) if parent_path else model, attr, new)
    return new


def _has_params(module: nn.Module) -> bool:
    return any(True for _ in module.parameters())


def _split_at_pools(seq: nn.Sequential) -> list[list[nn.Module]]:
    pools = (nn.MaxPool2d, nn.AvgPool2d)
    if not any(isinstance(m, pools) for m in seq):
        return [[m] for m in seq]
    groups: list[list[nn.Module]] = [[]]
    for m in seq:
        groups[-1].append(m)
        if isinstance(m, pools):
            groups.append([])
    return groups


def backbone_stages(model: nn.Module) -> list[list[nn.Module]]:
    """The backbone (everything but the head) as stages from input to output, for gradual unfreezing.

    Stages are the model's top-level children (ResNet's conv1 ... layer4, GoogLeNet's inception
    blocks); a `features` Sequential is split into its blocks (MobileNet, EfficientNet) or, where it
    pools, into the groups between pools (VGG, the small CNN); the layers before the head inside
    the head's container (VGG's fc6/fc7, MobileNetV3's first classifier layer) are the top stage.
    """
    head_path, _ = classifier_head(model)
    stages: list[list[nn.Module]] = []
    for name, child in model.named_children():
        if name == head_path or not _has_params(child):
            continue
        if head_path.startswith(name + "."):
            before = []
            for sub_name, sub in child.named_children():
                if head_path == f"{name}.{sub_name}" or head_path.startswith(f"{name}.{sub_name}."):
                    break
                before.append(sub)
            stages.append(before)
        elif name == "features" and isinstance(child, nn.Sequential):
            stages += _split_at_pools(child)
        else:
            stages.append([child])
    return [stage for stage in stages if any(_has_params(m) for m in stage)]


def _drop_auxiliary_classifiers(model: nn.Module) -> None:
    # GoogLeNet's and Inception-v3's weights include auxiliary classifiers; torchvision drops them after
    # loading when no auxiliary outputs are asked for, and so do we (the loop trains one output).
    if getattr(model, "aux_logits", False):
        model.aux_logits = False
        for attr in ("aux1", "aux2", "AuxLogits"):
            if hasattr(model, attr):
                setattr(model, attr, None)


# --- architectures ----------------------------------------------------------------------------------
class SmallCNN(nn.Module):
    """Conv blocks (conv 3x3, optional batch norm, ReLU, 2x2 max pool) doubling the width, then a linear head."""

    def __init__(
        self,
        num_classes: int,
        image_size: int,
        depth: int = 3,
        width: int = 32,
        batch_norm: bool = True,
        dropout: float = 0.0,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels, size = in_channels, image_size
        for i in range(depth):
            out = min(width * 2**i, 1024)
            layers += [nn.Conv2d(channels, out, 3, padding=1, bias=not batch_norm)]
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            if size >= 2:  # pool while there is something left to pool
                layers.append(nn.MaxPool2d(2))
                size //= 2
            channels = out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)))


@register_model(
    "small_cnn",
    "Small configurable CNN (depth, width, batch norm, dropout)",
    min_input_size=4,
    batch_norm_optional=True,
    input_size=32,
)
def small_cnn(
    num_classes: int,
    image_size: int,
    depth: int = 3,
    width: int = 32,
    batch_norm: bool = True,
    dropout: float = 0.0,
    **_: object,
) -> nn.Module:
    return SmallCNN(num_classes, image_size, depth=depth, width=width, batch_norm=batch_norm, dropout=dropout)


class SmallInputVGG(nn.Module):
    """CIFAR VGG: torchvision's VGG features, then 512 globally pooled features straight to the classes.

    The ImageNet head would replicate a 1x1 map to 7x7 and add 120M parameters that small images
    cannot train.
    """

    def __init__(self, features: nn.Sequential, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(512, num_classes))
        for m in self.modules():  # torchvision's VGG initialization
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.avgpool(self.features(x)))


def _vgg(
    layout: str, num_classes: int, image_size: int, pretrained: bool, batch_norm: bool, dropout: float
) -> nn.Module:
    features = tvm.vgg.make_layers(tvm.vgg.cfgs[layout], batch_norm=batch_norm)
    if not pretrained and image_size < SMALL_INPUT:
        return SmallInputVGG(features, num_classes, dropout)
    return tvm.VGG(features, num_classes=num_classes, dropout=dropout, init_weights=not pretrained)


@register_model(
    "vgg11",
    "VGG-11 (batch norm optional; 512-wide head below 96 pixels)",
    min_input_size=32,
    weights={True: "VGG11_BN_Weights.IMAGENET1K_V1", False: "VGG11_Weights.IMAGENET1K_V1"},
    batch_norm_optional=True,
)
def vgg11(
    num_classes: int,
    image_size: int,
    pretrained: bool = False,
    batch_norm: bool = True,
    dropout: float = 0.0,
    **_: object,
) -> nn.Module:
    return _vgg("A", num_classes, image_size, pretrained, batch_norm, dropout)


@register_model(
    "vgg16",
    "VGG-16 (batch norm optional; 512-wide head below 96 pixels)",
    min_input_size=32,
    weights={True: "VGG16_BN_Weights.IMAGENET1K_V1", False: "VGG16_Weights.IMAGENET1K_V1"},
    batch_norm_optional=True,
)
def vgg16(
    num_classes: int,
    image_size: int,
    pretrained: bool = False,
    batch_norm: bool = True,
    dropout: float = 0.0,
    **_: object,
) -> nn.Module:
    return _vgg("D", num_classes, image_size, pretrained, batch_norm, dropout)


def _resnet(
    builder: Callable[..., tvm.ResNet], num_classes: int, image_size: int, pretrained: bool, dropout: float
) -> nn.Module:
    model = builder(weights=None, num_classes=num_classes)
    if not pretrained and image_size < SMALL_INPUT:
        model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    if dropout > 0:
        # Dropout after the global pool is dropout before `fc`, and keeps the state-dict keys of
        # torchvision's layout, so pretrained weights still load.
        model.avgpool = nn.Sequential(model.avgpool, nn.Dropout(dropout))
    return model


@register_model(
    "resnet18",
    "ResNet-18 (small-input stem below 96 pixels)",
    min_input_size=8,
    weights="ResNet18_Weights.IMAGENET1K_V1",
)
def resnet18(
    num_classes: int, image_size: int, pretrained: bool = False, dropout: float = 0.0, **_: object
) -> nn.Module:
    return _resnet(tvm.resnet18, num_classes, image_size, pretrained, dropout)


@register_model(
    "resnet34",
    "ResNet-34 (small-input stem below 96 pixels)",
    min_input_size=8,
    weights="ResNet34_Weights.IMAGENET1K_V1",
)
def resnet34(
    num_classes: int, image_size: int, pretrained: bool = False, dropout: float = 0.0, **_: object
) -> nn.Module:
    return _resnet(tvm.resnet34, num_classes, image_size, pretrained, dropout)


@register_model(
    "resnet50",
    "ResNet-50 (small-input stem below 96 pixels)",
    min_input_size=8,
    weights="ResNet50_Weights.IMAGENET1K_V2",
)
def resnet50(
    num_classes: int, image_size: int, pretrained: bool = False, dropout: float = 0.0, **_: object
) -> nn.Module:
    return _resnet(tvm.resnet50, num_classes, image_size, pretrained, dropout)


@register_model(
    "googlenet",
    "GoogLeNet / Inception-v1 (small-input stem below 96 pixels)",
    min_input_size=16,
    weights="GoogLeNet_Weights.IMAGENET1K_V1",
)
def googlenet(
    num_classes: int, image_size: int, pretrained: bool = False, dropout: float = 0.2, **_: object
) -> nn.Module:
    # The pretrained weights came from Google's TensorFlow model, which expected inputs scaled to
    # [-1, 1]; transform_input converts ImageNet-normalized inputs to that, as torchvision does.
    model = tvm.GoogLeNet(
        num_classes=num_classes,
        aux_logits=pretrained,
        transform_input=pretrained,
        init_weights=not pretrained,
        dropout=dropout,
    )
    if not pretrained and image_size < SMALL_INPUT:
        model.conv1 = BasicConv2d(3, 64, kernel_size=3, stride=1, padding=1)
        model.maxpool1 = nn.Identity()
    return model


@register_model(
    "inception_v3",
    "Inception-v3 (needs at least 75 pixels; trained at 299)",
    min_input_size=75,
    min_pretrained_input_size=75,
    weights="Inception_V3_Weights.IMAGENET1K_V1",
    input_size=299,
)
def inception_v3(
    num_classes: int, image_size: int, pretrained: bool = False, dropout: float = 0.5, **_: object
) -> nn.Module:
    # Its stem has unpadded convolutions: 75 pixels is the least that leaves a feature map at the end.
    return tvm.Inception3(
        num_classes=num_classes,
        aux_logits=pretrained,
        transform_input=pretrained,
        init_weights=not pretrained,
        dropout=dropout,
    )


def _stride_one_stem(model: nn.Module, image_size: int, pretrained: bool) -> nn.Module:
    if not pretrained and image_size < SMALL_INPUT:
        model.features[0][0].stride = (1, 1)
    return model


@register_model(
    "mobilenet_v3_small",
    "MobileNetV3-Small (stride-1 stem below 96 pixels)",
    min_input_size=16,
    weights="MobileNet_V3_Small_Weights.IMAGENET1K_V1",
)
def mobilenet_v3_small(
    num_classes: int, image_size: int, pretrained: bool = False, dropout: float = 0.2, **_: object
) -> nn.Module:
    return _stride_one_stem(
        tvm.mobilenet_v3_small(weights=None, num_classes=num_classes, dropout=dropout), image_size, pretrained
    )


@register_model(
    "mobilenet_v3_large",
    "MobileNetV3-Large (stride-1 stem below 96 pixels)",
    min_input_size=16,
    weights="MobileNet_V3_Large_Weights.IMAGENET1K_V2",
)
def mobilenet_v3_large(
    num_classes: int, image_size: int, pretrained: bool = False, dropout: float = 0.2, **_: object
) -> nn.Module:
    return _stride_one_stem(
        tvm.mobilenet_v3_large(weights=None, num_classes=num_classes, dropout=dropout), image_size, pretrained
    )


@register_model(
    "efficientnet_b0",
    "EfficientNet-B0 (stride-1 stem below 96 pixels)",
    min_input_size=16,
    weights="EfficientNet_B0_Weights.IMAGENET1K_V1",
)
def efficientnet_b0(
    num_classes: int, image_size: int, pretrained: bool = False, dropout: float = 0.2, **_: object
) -> nn.Module:
    return _stride_one_stem(
        tvm.efficientnet_b0(weights=None, num_classes=num_classes, dropout=dropout), image_size, pretrained
    )
