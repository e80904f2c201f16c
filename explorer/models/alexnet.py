"""AlexNet in torchvision's layout, plus the paper's LRN and two-group convs as options."""
from __future__ import annotations

from collections import OrderedDict

from torch import nn

from .layers import ClassicCNN, mlp_head


class AlexNet(ClassicCNN):
    """AlexNet from plain arguments (``AlexNetSpec.model_kwargs()`` supplies them).

    Args:
        convs: ``(out_channels, kernel, stride, padding, groups)`` of the five convs.
        lrn: ``(size, alpha, beta, k)`` of PyTorch's LocalResponseNorm after conv1 and conv2, or None.
        flat_features: the flattened size the first FC layer reads.
    """

    def __init__(self, *, convs: tuple[tuple[int, int, int, int, int], ...], in_channels: int, num_classes: int,
                 lrn: tuple[int, float, float, float] | None, pool_window: tuple[int, int],
                 avgpool_size: int | None, flat_features: int, hidden_sizes: tuple[int, ...],
                 dropout: float) -> None:
        super().__init__()
        self.features = nn.Sequential()
        pool_kernel, pool_stride = pool_window
        channels = in_channels
        for index, (width, kernel, stride, padding, groups) in enumerate(convs, 1):
            layers: OrderedDict[str, nn.Module] = OrderedDict(
                conv=nn.Conv2d(channels, width, kernel, stride=stride, padding=padding, groups=groups),
                relu=nn.ReLU(inplace=True))
            if lrn is not None and index in (1, 2):
                size, alpha, beta, k = lrn
                layers["lrn"] = nn.LocalResponseNorm(size, alpha=alpha, beta=beta, k=k)
            if index in (1, 2, 5):
                layers["pool"] = nn.MaxPool2d(kernel_size=pool_kernel, stride=pool_stride)
            self.add_feature_block(f"conv{index}", "conv_stage", nn.Sequential(layers))
            channels = width

        head: OrderedDict[str, nn.Module] = OrderedDict()
        if avgpool_size is not None:
            head["avgpool"] = nn.AdaptiveAvgPool2d(avgpool_size)
        head["flatten"] = nn.Flatten(1)
        head.update(mlp_head(flat_features, hidden_sizes, num_classes, dropout, dropout_first=True))
        self.set_head(nn.Sequential(head))
