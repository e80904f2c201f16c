"""NiN as d2l's ``nin_block`` layout builds it: kxk conv + 1x1 "mlpconv" blocks and a global-average head."""
from __future__ import annotations

from collections import OrderedDict

from torch import nn

from .layers import ClassicCNN


def nin_block(in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int,
              one_by_one: tuple[int, ...]) -> OrderedDict[str, nn.Module]:
    """A kxk conv then 1x1 convs, each followed by ReLU."""
    layers: OrderedDict[str, nn.Module] = OrderedDict(
        conv=nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding),
        relu=nn.ReLU(inplace=True))
    channels = out_channels
    for index, width in enumerate(one_by_one, 1):
        layers[f"mlp{index}"] = nn.Conv2d(channels, width, kernel_size=1)
        layers[f"mlp{index}_relu"] = nn.ReLU(inplace=True)
        channels = width
    return layers


class NiN(ClassicCNN):
    """NiN from plain arguments (``NiNSpec.model_kwargs()`` supplies them).

    Args:
        blocks: ``(out_channels, kernel_size, stride, padding, one_by_one_channels)`` per feature block.
    """

    def __init__(self, *, blocks: tuple[tuple[int, int, int, int, tuple[int, ...]], ...], in_channels: int,
                 num_classes: int, pool_kernel: int, pool_stride: int, dropout: float, head_kernel_size: int) -> None:
        super().__init__()
        self.features = nn.Sequential()
        channels = in_channels
        for index, (out_channels, kernel, stride, padding, one_by_one) in enumerate(blocks, 1):
            layers = nin_block(channels, out_channels, kernel, stride, padding, one_by_one)
            layers["pool"] = nn.MaxPool2d(pool_kernel, stride=pool_stride)
            self.add_feature_block(f"nin{index}", "conv_block", nn.Sequential(layers))
            channels = one_by_one[-1]

        head: OrderedDict[str, nn.Module] = OrderedDict()
        if dropout > 0:
            head["dropout"] = nn.Dropout(dropout)
        # The classifier is a NiN block with one channel per class; global average pooling replaces FC layers.
        head.update(nin_block(channels, num_classes, head_kernel_size, 1, head_kernel_size // 2, (num_classes,) * 2))
        head["avgpool"] = nn.AdaptiveAvgPool2d(1)
        head["flatten"] = nn.Flatten(1)
        self.set_head(nn.Sequential(head))
