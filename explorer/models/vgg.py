"""VGG as torchvision's ``make_layers`` builds it: blocks of 3x3 convs, each closed by a 2x2 max-pool."""
from __future__ import annotations

from collections import OrderedDict

from torch import nn

from .layers import ClassicCNN, mlp_head


class VGG(ClassicCNN):
    """VGG from plain arguments (``VGGSpec.model_kwargs()`` supplies them).

    Args:
        blocks: ``(num_convs, out_channels)`` per block, widths already divided by d2l's ratio.
        classifier_kernel: spatial size the first FC layer sees (its kernel when ``fc_as_conv``).
    """

    def __init__(self, *, blocks: tuple[tuple[int, int], ...], in_channels: int, num_classes: int,
                 hidden_sizes: tuple[int, ...], dropout: float, batch_norm: bool, avgpool_size: int | None,
                 fc_as_conv: bool, classifier_kernel: int) -> None:
        super().__init__()
        self.features = nn.Sequential()
        channels = in_channels
        for block_index, (num_convs, width) in enumerate(blocks, 1):
            layers: OrderedDict[str, nn.Module] = OrderedDict()
            for conv_index in range(1, num_convs + 1):
                # torchvision keeps the conv bias even with batch norm; so do we, to match its parameter counts.
                layers[f"conv{conv_index}"] = nn.Conv2d(channels, width, kernel_size=3, padding=1)
                if batch_norm:
                    layers[f"bn{conv_index}"] = nn.BatchNorm2d(width)
                layers[f"relu{conv_index}"] = nn.ReLU(inplace=True)
                channels = width
            layers["pool"] = nn.MaxPool2d(kernel_size=2, stride=2)
            self.add_feature_block(f"block{block_index}", "conv_block", nn.Sequential(layers))

        head: OrderedDict[str, nn.Module] = OrderedDict()
        if fc_as_conv:
            # fc1 becomes a kxk conv and the others 1x1 convs: the same weights, reshaped, so any input that is
            # at least as large works; the class scores are averaged over the resulting map.
            widths = (*hidden_sizes, num_classes)
            for index, width in enumerate(widths, 1):
                head[f"fc{index}"] = nn.Conv2d(channels, width, kernel_size=classifier_kernel if index == 1 else 1)
                if index < len(widths):
                    head[f"relu{index}"] = nn.ReLU(inplace=True)
                    if dropout > 0:
                        head[f"dropout{index}"] = nn.Dropout(dropout)
                channels = width
            head["avgpool"] = nn.AdaptiveAvgPool2d(1)
            head["flatten"] = nn.Flatten(1)
        else:
            if avgpool_size is not None:
                head["avgpool"] = nn.AdaptiveAvgPool2d(avgpool_size)
            head["flatten"] = nn.Flatten(1)
            # The flatten size comes from the plan (never hard-coded): channels x final spatial size squared.
            head.update(mlp_head(channels * classifier_kernel * classifier_kernel, hidden_sizes, num_classes,
                                 dropout))
        self.set_head(nn.Sequential(head))
