"""Small building blocks shared by the family builders. Imports only torch, so that exports can copy it."""
from __future__ import annotations

from collections import OrderedDict

from torch import nn


def conv_relu(in_channels: int, out_channels: int, kernel_size: int, *, stride: int = 1, padding: int = 0,
              batch_norm: bool = False, bn_eps: float = 1e-5, conv_bias: bool = True,
              groups: int = 1) -> nn.Sequential:
    """conv -> (BN) -> ReLU, named ``conv``, ``bn``, ``relu``."""
    layers: OrderedDict[str, nn.Module] = OrderedDict(
        conv=nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=conv_bias,
                       groups=groups))
    if batch_norm:
        layers["bn"] = nn.BatchNorm2d(out_channels, eps=bn_eps)
    layers["relu"] = nn.ReLU(inplace=True)
    return nn.Sequential(layers)


def mlp_head(in_features: int, widths: tuple[int, ...], num_classes: int, dropout: float, *,
             dropout_first: bool = False) -> OrderedDict[str, nn.Module]:
    """Fully connected layers ``fc1..fcN`` with ReLU and dropout between them.

    ``dropout_first`` puts each dropout before its linear layer (torchvision's AlexNet) instead of after the
    ReLU (VGG); the parameter counts and shapes are the same.
    """
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    features = in_features
    for index, width in enumerate(widths, 1):
        if dropout_first and dropout > 0:
            layers[f"dropout{index}"] = nn.Dropout(dropout)
        layers[f"fc{index}"] = nn.Linear(features, width)
        layers[f"relu{index}"] = nn.ReLU(inplace=True)
        if not dropout_first and dropout > 0:
            layers[f"dropout{index}"] = nn.Dropout(dropout)
        features = width
    layers[f"fc{len(widths) + 1}"] = nn.Linear(features, num_classes)
    return layers


class RecordedNet(nn.Module):
    """A network that records its blocks while it builds them (like timm's ``feature_info``).

    ``block_info`` lists, in execution order, one dict per block: ``name``, ``kind`` (stem, conv_block, pool,
    inception, residual, aux, head, ...), ``modules`` (their paths in ``named_modules()``), and for blocks with
    parallel paths ``branches`` (a list of ``{"name", "modules"}``) and ``merge`` ("concat" or "add").
    The analysis measures every number of a block from the module this record names.
    """

    def __init__(self) -> None:
        super().__init__()
        self.block_info: list[dict] = []

    def record_block(self, name: str, kind: str, module: str | tuple[str, ...], *,
                     branches: tuple[tuple[str, str | tuple[str, ...]], ...] = (), merge: str | None = None) -> None:
        """Record a block made of one module (or of consecutive modules, as torchvision's ResNet stem).

        A branch is ``(name, module path or paths)``; no paths means the identity (a residual shortcut).
        """
        modules = [module] if isinstance(module, str) else list(module)
        entry: dict = {"name": name, "kind": kind, "modules": modules}
        if branches:
            entry["branches"] = [{"name": branch, "modules": [paths] if isinstance(paths, str) else list(paths)}
                                 for branch, paths in branches]
            entry["merge"] = merge
        self.block_info.append(entry)


class ClassicCNN(RecordedNet):
    """A network as ``features`` (named blocks) then ``head``."""

    def add_feature_block(self, name: str, kind: str, block: nn.Module) -> None:
        """Append a block to ``features`` and record it."""
        self.features.add_module(name, block)
        self.record_block(name, kind, f"features.{name}")

    def set_head(self, head: nn.Sequential) -> None:
        self.head = head
        self.record_block("head", "head", "head")

    def forward_features(self, x):  # noqa: ANN001, ANN201 - torch.Tensor in, torch.Tensor out
        return self.features(x)

    def forward_head(self, x):  # noqa: ANN001, ANN201
        return self.head(x)

    def forward(self, x):  # noqa: ANN001, ANN201
        return self.forward_head(self.forward_features(x))
