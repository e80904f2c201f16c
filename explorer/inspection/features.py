"""Feature maps: what every recorded block (and every Inception branch) outputs for one image.

Forward hooks sit on the modules the builder recorded (``model.block_info``, read through the analysis): a
block's output is its last module's output, a branch's its last module's, an identity branch's the block's input.
Each hook summarises at once (channel means, the most active channels' maps, copied), so an in-place layer
further on cannot change what is shown.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..analysis import Analysis, BlockAnalysis, BranchAnalysis
from . import render


@dataclass(frozen=True)
class ChannelMap:
    """One channel of a block's output."""

    index: int  # its index in the block's (or branch's) output
    mean: float  # its mean activation over the map (what "most active" ranks by)
    values: np.ndarray  # H x W float32: the activation itself


@dataclass(frozen=True)
class FeatureMaps:
    """A block's (or one branch's) output for the image: its most active channels and their grid."""

    name: str  # the block's name, e.g. "block3", or "inception3a.branch2" for a branch
    block: str  # the recorded block it belongs to
    kind: str  # the block's kind (conv_block, inception, pool, ...), or "branch"
    label: str  # words for the grid's title, e.g. "1x1 -> 3x3" for an Inception branch
    shape: tuple[int, ...]  # the output's shape without the batch dimension: (C, H, W)
    channel_means: np.ndarray  # C float32: every channel's mean activation
    top: tuple[ChannelMap, ...]  # the most active channels, highest mean first (ties: lower index first)
    value_range: tuple[float, float]  # the colour scale's ends, shared by every tile of the grid
    grid: Image.Image | None = None  # the top channels as captioned tiles, under a title with the shape
    branches: tuple["FeatureMaps", ...] = ()  # an Inception block's branches, in order
    branches_grid: Image.Image | None = None  # the branches side by side, on one colour scale
    channel_branches: tuple[str, ...] = field(default=())  # for a concatenation: the branch of each top channel

    @property
    def channels(self) -> int:
        return int(self.shape[0]) if self.shape else 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready metadata (the maps themselves are in the PNGs)."""
        return {"name": self.name, "block": self.block, "kind": self.kind, "label": self.label,
                "shape": list(self.shape), "value_range": list(self.value_range),
                "top_channels": [{"index": channel.index, "mean": channel.mean} for channel in self.top],
                "branches": [branch.to_dict() for branch in self.branches]}


@dataclass
class Captured:
    """What one hook saw."""

    shape: tuple[int, ...]
    means: np.ndarray
    top: list[ChannelMap]


def summarise(output: torch.Tensor, count: int) -> Captured:
    """Channel means and the ``count`` most active channels of a ``1 x C x H x W`` output (copied)."""
    with torch.no_grad():
        values = output.detach()[0].float()
        shape = tuple(int(size) for size in output.shape[1:])
        if values.dim() == 1:  # a flat vector: one 1x1 "map" per feature
            values = values.view(-1, 1, 1)
        elif values.dim() == 2:
            values = values.unsqueeze(0)
        means = values.mean(dim=(1, 2))
        order = torch.argsort(means, descending=True, stable=True)[:count]
        maps = values[order].cpu().numpy().copy()
        means_np = means.cpu().numpy().astype(np.float32)
    return Captured(shape=shape, means=means_np,
                    top=[ChannelMap(index=int(index), mean=float(means_np[index]), values=maps[position])
                         for position, index in enumerate(order.tolist())])


class Recorder:
    """Forward hooks on every feature block of ``analysis`` (and its branches) of ``model``; use as a context."""

    def __init__(self, model: nn.Module, analysis: Analysis, *, top_channels: int,
                 branch_channels: int, extra: dict[str, Callable] | None = None) -> None:
        self.model = model
        self.blocks = analysis.feature_blocks
        self.top_channels = top_channels
        self.branch_channels = branch_channels
        self.extra = extra or {}  # block name -> hook run first on the block's output (may replace it)
        self.captured: dict[str, Captured] = {}
        self.handles: list[Any] = []

    def __enter__(self) -> "Recorder":
        for block in self.blocks:
            last = self.model.get_submodule(block.modules[-1])
            if block.name in self.extra:
                self.handles.append(last.register_forward_hook(self.extra[block.name]))
            self.handles.append(last.register_forward_hook(self._hook(block.name, self.top_channels)))
            for branch in block.branches:
                key = f"{block.name}.{branch.name}"
                if branch.modules:
                    module = self.model.get_submodule(branch.modules[-1])
                    self.handles.append(module.register_forward_hook(self._hook(key, self.branch_channels)))
                else:  # the identity: what the block was given
                    first = self.model.get_submodule(block.modules[0])
                    self.handles.append(first.register_forward_pre_hook(self._pre_hook(key, self.branch_channels)))
        return self

    def __exit__(self, *exc_info: object) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()

    def _hook(self, key: str, count: int) -> Callable:
        def hook(module: nn.Module, args: tuple, output: Any) -> None:
            if isinstance(output, torch.Tensor):
                self.captured[key] = summarise(output, count)
        return hook

    def _pre_hook(self, key: str, count: int) -> Callable:
        def hook(module: nn.Module, args: tuple) -> None:
            if args and isinstance(args[0], torch.Tensor):
                self.captured[key] = summarise(args[0], count)
        return hook


def branch_label(analysis: Analysis, branch: BranchAnalysis) -> str:
    """A branch's layers in words, e.g. ``1x1 -> 3x3`` or ``3x3 pool -> 1x1`` (``identity`` for none)."""
    if not branch.modules:
        return "identity"
    parts = []
    for layer in analysis.layers:
        if any(layer.name == path or layer.name.startswith(path + ".") for path in branch.modules):
            if layer.kind == "conv" and layer.kernel_size:
                parts.append(f"{layer.kernel_size}x{layer.kernel_size}")
            elif layer.kind in ("maxpool", "avgpool") and layer.kernel_size:
                parts.append(f"{layer.kernel_size}x{layer.kernel_size} pool")
    return " -> ".join(parts) or branch.name


def _shape_text(shape: Sequence[int]) -> str:
    return "x".join(str(size) for size in shape)


def _scale(maps: Sequence[ChannelMap]) -> tuple[float, float]:
    """One colour scale for a set of maps: from min(0, lowest) to the highest value."""
    if not maps:
        return 0.0, 1.0
    low = min(0.0, min(float(channel.values.min()) for channel in maps))
    high = max(float(channel.values.max()) for channel in maps)
    return low, high


def _tiles(maps: Sequence[ChannelMap], value_range: tuple[float, float],
           captions: Sequence[str]) -> list[render.Tile]:
    tiles = []
    for channel, caption in zip(maps, captions):
        height, width = channel.values.shape
        factor = render.zoom_factor(height, width, render.TILE_PIXELS)
        pixels = render.enlarge(render.colorize(channel.values, *value_range), factor)
        tiles.append(render.Tile(pixels, caption))
    return tiles


def build_feature_maps(analysis: Analysis, captured: dict[str, Captured], *, render_grids: bool = True
                       ) -> tuple[FeatureMaps, ...]:
    """The FeatureMaps of every feature block the recorder saw, in the analysis's order."""
    results = []
    for block in analysis.feature_blocks:
        seen = captured.get(block.name)
        if seen is None:  # a block that did not run (none do in eval mode; aux heads are not feature blocks)
            continue
        results.append(_block_maps(analysis, block, seen, captured, render_grids))
    return tuple(results)


def _block_maps(analysis: Analysis, block: BlockAnalysis, seen: Captured, captured: dict[str, Captured],
                render_grids: bool) -> FeatureMaps:
    owners: list[str] = []
    if block.merge == "concat" and block.branches:
        bounds, start = [], 0
        for branch in block.branches:
            start += branch.width
            bounds.append(start)
        owners = [block.branches[int(np.searchsorted(bounds, channel.index, side="right"))].name
                  for channel in seen.top]
    captions = [f"ch {channel.index}" + (f" b{owner[-1]}" if owner and owner[-1].isdigit() else "")
                for channel, owner in zip(seen.top, owners or [""] * len(seen.top))]
    value_range = _scale(seen.top)
    title = (f"{block.name} ({block.kind}) {_shape_text(seen.shape)}: top {len(seen.top)} of "
             f"{seen.means.shape[0]} channels by mean activation")
    grid = render.grid(_tiles(seen.top, value_range, captions), title=title) if render_grids else None
    branches: list[FeatureMaps] = []
    branch_data = [(branch, captured.get(f"{block.name}.{branch.name}")) for branch in block.branches]
    branch_data = [(branch, data) for branch, data in branch_data if data is not None]
    shared = _scale([channel for _, data in branch_data for channel in data.top])
    for branch, data in branch_data:
        label = branch_label(analysis, branch)
        branch_title = f"{branch.name} ({label}) {_shape_text(data.shape)}"
        branch_grid = (render.grid(_tiles(data.top, shared, [f"ch {channel.index}" for channel in data.top]),
                                   title=branch_title, columns=2) if render_grids else None)
        branches.append(FeatureMaps(
            name=f"{block.name}.{branch.name}", block=block.name, kind="branch", label=label, shape=data.shape,
            channel_means=data.means, top=tuple(data.top), value_range=shared, grid=branch_grid))
    branches_grid = None
    if render_grids and branches:
        branches_grid = render.side_by_side([branch.grid for branch in branches if branch.grid is not None])
    label = block.kind if not block.merge else f"{block.kind}, {len(block.branches)} branches ({block.merge})"
    return FeatureMaps(name=block.name, block=block.name, kind=block.kind, label=label, shape=seen.shape,
                       channel_means=seen.means, top=tuple(seen.top), value_range=value_range, grid=grid,
                       branches=tuple(branches), branches_grid=branches_grid, channel_branches=tuple(owners))
