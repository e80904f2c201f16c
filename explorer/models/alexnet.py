"""AlexNetSpec -> nn.Module: torchvision's layout, plus the paper's LRN and two-group convs as options."""
from __future__ import annotations

from collections import OrderedDict

from torch import nn

from ..specs import AlexNetSpec
from .layers import ClassicCNN, mlp_head


def build_alexnet(spec: AlexNetSpec) -> ClassicCNN:
    geometry = ((spec.conv1_kernel, spec.conv1_stride, spec.conv1_padding), (5, 1, 2), (3, 1, 1), (3, 1, 1),
                (3, 1, 1))
    pool_kernel, pool_stride = spec.pool_window
    blocks: OrderedDict[str, nn.Module] = OrderedDict()
    channels = spec.in_channels
    for conv, ((kernel, stride, padding), width) in enumerate(zip(geometry, spec.conv_channels), 1):
        layers: OrderedDict[str, nn.Module] = OrderedDict(
            conv=nn.Conv2d(channels, width, kernel, stride=stride, padding=padding, groups=spec.conv_groups(conv)),
            relu=nn.ReLU(inplace=True))
        if spec.lrn and conv in (1, 2):
            # PyTorch divides alpha by the window size (the paper does not), so pass alpha * n.
            layers["lrn"] = nn.LocalResponseNorm(spec.lrn_size, alpha=spec.lrn_alpha * spec.lrn_size,
                                                 beta=spec.lrn_beta, k=spec.lrn_k)
        if conv in (1, 2, 5):
            layers["pool"] = nn.MaxPool2d(kernel_size=pool_kernel, stride=pool_stride)
        blocks[f"conv{conv}"] = nn.Sequential(layers)
        channels = width

    head: OrderedDict[str, nn.Module] = OrderedDict()
    if spec.avgpool_size is not None:
        head["avgpool"] = nn.AdaptiveAvgPool2d(spec.avgpool_size)
    head["flatten"] = nn.Flatten(1)
    flat_features = next(layer.out_shape[0] for layer in spec.planned_layers() if layer.operation == "flatten")
    head.update(mlp_head(flat_features, spec.hidden_sizes, spec.num_classes, spec.dropout, dropout_first=True))
    return ClassicCNN(nn.Sequential(blocks), nn.Sequential(head))
