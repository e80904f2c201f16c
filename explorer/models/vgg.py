"""VGGSpec -> nn.Module, following torchvision's ``make_layers``."""
from __future__ import annotations

from collections import OrderedDict

from torch import nn

from ..specs import VGGSpec
from .layers import ClassicCNN, mlp_head


def build_vgg(spec: VGGSpec) -> ClassicCNN:
    blocks: OrderedDict[str, nn.Module] = OrderedDict()
    channels = spec.in_channels
    for block_index, ((num_convs, _), width) in enumerate(zip(spec.conv_arch, spec.block_channels), 1):
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        for conv_index in range(1, num_convs + 1):
            # torchvision keeps the conv bias even with batch norm; so do we, to match its parameter counts.
            layers[f"conv{conv_index}"] = nn.Conv2d(channels, width, kernel_size=3, padding=1)
            if spec.batch_norm:
                layers[f"bn{conv_index}"] = nn.BatchNorm2d(width)
            layers[f"relu{conv_index}"] = nn.ReLU(inplace=True)
            channels = width
        layers["pool"] = nn.MaxPool2d(kernel_size=2, stride=2)
        blocks[f"block{block_index}"] = nn.Sequential(layers)

    head: OrderedDict[str, nn.Module] = OrderedDict()
    kernel = spec.classifier_kernel()
    if spec.fc_as_conv:
        # fc1 becomes a kxk conv and the others 1x1 convs: the same weights, reshaped, so any input that is
        # at least as large works; the class scores are averaged over the resulting map.
        widths = (*spec.hidden_sizes, spec.num_classes)
        for index, width in enumerate(widths, 1):
            head[f"fc{index}"] = nn.Conv2d(channels, width, kernel_size=kernel if index == 1 else 1)
            if index < len(widths):
                head[f"relu{index}"] = nn.ReLU(inplace=True)
                if spec.dropout > 0:
                    head[f"dropout{index}"] = nn.Dropout(spec.dropout)
            channels = width
        head["avgpool"] = nn.AdaptiveAvgPool2d(1)
        head["flatten"] = nn.Flatten(1)
    else:
        if spec.avgpool_size is not None:
            head["avgpool"] = nn.AdaptiveAvgPool2d(spec.avgpool_size)
        head["flatten"] = nn.Flatten(1)
        # The flatten size comes from the plan (never hard-coded): channels x final spatial size squared.
        head.update(mlp_head(channels * kernel * kernel, spec.hidden_sizes, spec.num_classes, spec.dropout))
    return ClassicCNN(nn.Sequential(blocks), nn.Sequential(head))
