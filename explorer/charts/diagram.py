"""A block diagram of the network, read from the blocks the builder recorded: one box per block, its layers
summarised ("3x3 conv 64 ×2 + BN", "2x2/2 max-pool"), parallel branches side by side with their widths
(Inception's four, a residual block's main path and shortcut). Pure: analysis -> HTML; no family code.
English, or Simplified Chinese with ``zh=True`` (d2l's Chinese terms); names from the papers (conv1, nin1,
inception3a, layer1.0) stay as they are."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Sequence

from ..analysis import Analysis, BlockAnalysis, LayerAnalysis
from ..report import human_count, kind_name, shape_text

_COLORS = {"stem": "#DCE8F5", "conv_block": "#DCE8F5", "conv_stage": "#DCE8F5", "pool": "#FCE3CC",
           "head": "#E3F1DC", "inception": "#EFE3F3", "residual": "#E8EEF9", "aux": "#F5F5F5"}
_BRANCH_COLORS = ("#4C78A8", "#54A24B", "#C0504D", "#E08214")
#: Layers that add nothing to a box's summary (they keep the shape and have no options worth showing).
_SILENT_KINDS = {"relu", "dropout", "flatten", "concat", "add"}
#: The diagram's words, English and Chinese; the phrases are built from these, so both share one logic.
_WORDS = {
    False: dict(conv="conv", groups=" ({} groups)", maxpool="max-pool", global_avgpool="global avg-pool",
                avgpool_to="avg-pool to {0}x{0}", fc="FC", params="{} params", channels="{} → {} channels",
                added="main path + shortcut, added", identity="identity", shortcut="⤷ shortcut: "),
    True: dict(conv="卷积", groups="（{} 组）", maxpool="最大池化", global_avgpool="全局平均池化",
               avgpool_to="平均池化到 {0}x{0}", fc="全连接", params="参数量 {}", channels="{} → {} 通道",
               added="主路径 + 捷径，相加", identity="恒等", shortcut="⤷ 捷径："),
}
#: Generic block names in Chinese; the papers' own names (conv1, nin1, inception3a) stay.
_BLOCK_ZH = {"block": "块", "stem": "主干", "pool": "池化", "head": "分类头", "aux": "辅助分类器", "stage": "阶段"}


@dataclass
class DiagramBox:
    """One column of the diagram."""

    title: str
    lines: list[str]
    kind: str  # the recorded block kind
    branches: list[tuple[str, int]] = field(default_factory=list)  # (label, out channels)
    merge: str | None = None  # "concat" or "add" when there are branches


def block_title(name: str, *, zh: bool = False) -> str:
    """'inception3a' -> 'inception 3a', 'block2' -> 'block 2' ('块 2' when ``zh``); dotted names ('layer1.0')
    stay."""
    if "." in name:
        return name
    title = re.sub(r"^([a-z_]+?)(\d)", r"\1 \2", name)
    if zh:
        word, _, rest = title.partition(" ")
        if word in _BLOCK_ZH:
            return f"{_BLOCK_ZH[word]} {rest}".strip()
    return title


def _layer_phrase(layer: LayerAnalysis, zh: bool = False) -> str:
    words = _WORDS[zh]
    kernel, stride = layer.kernel_size or 1, layer.stride or 1
    window = f"{kernel}x{kernel}" + (f"/{stride}" if stride > 1 else "")
    if layer.kind == "conv":
        groups = words["groups"].format(layer.groups) if layer.groups > 1 else ""
        return f"{window} {words['conv']} {layer.output_shape[0]}{groups}"
    if layer.kind == "maxpool":
        return f"{window} {words['maxpool']}"
    if layer.kind == "avgpool":
        size = layer.output_shape[-1] if len(layer.output_shape) == 3 else 1
        return words["global_avgpool"] if size == 1 else words["avgpool_to"].format(size)
    if layer.kind == "linear":
        return f"{words['fc']} {layer.output_shape[0]}"
    if layer.kind == "batchnorm":
        return "BN"
    if layer.kind == "lrn":
        return "LRN"
    return kind_name(layer.kind, zh=zh)


def summarise_layers(layers: Sequence[LayerAnalysis], *, zh: bool = False) -> list[str]:
    """Consecutive equal phrases collapse ("3x3 conv 64 ×2"); BN joins the conv before it; FCs chain."""
    fc = _WORDS[zh]["fc"] + " "
    phrases: list[str] = []
    for layer in layers:
        if layer.kind in _SILENT_KINDS:
            continue
        phrase = _layer_phrase(layer, zh)
        if phrase == "BN" and phrases:
            if not phrases[-1].endswith(" + BN"):
                phrases[-1] += " + BN"
            continue
        if phrase.startswith(fc) and phrases and phrases[-1].startswith(fc):
            phrases[-1] += f" → {phrase[len(fc):]}"
            continue
        phrases.append(phrase)
    lines: list[str] = []
    for phrase in phrases:
        previous = lines[-1] if lines else ""
        base, _, count = previous.partition(" ×")
        if base == phrase:
            lines[-1] = f"{phrase} ×{int(count or 1) + 1}"
        else:
            lines.append(phrase)
    return lines


def _branch_label(analysis: Analysis, block: BlockAnalysis, index: int, zh: bool = False) -> str:
    branch = block.branches[index]
    if not branch.modules:
        return _WORDS[zh]["identity"]
    layers = [layer for layer in analysis.layers_of(block.name)
              if any(layer.name == path or layer.name.startswith(path + ".") for path in branch.modules)]
    return " → ".join(summarise_layers(layers, zh=zh))


def diagram_boxes(analysis: Analysis, *, zh: bool = False) -> list[DiagramBox]:
    """The recorded blocks as labelled boxes, in order, with their output shapes and parameters."""
    words = _WORDS[zh]
    boxes = []
    for block in analysis.blocks:
        title = block_title(block.name, zh=zh)
        footer = [f"→ {shape_text(block.output_shape)}", words["params"].format(human_count(block.params))]
        if block.branches:
            lines = [words["channels"].format(block.input_shape[0] if block.input_shape else "?",
                                              block.output_shape[0])]
            if block.merge == "add":
                lines.append(words["added"])
            branches = [(_branch_label(analysis, block, index, zh), branch.width)
                        for index, branch in enumerate(block.branches)]
            boxes.append(DiagramBox(title, lines + footer, block.kind, branches, block.merge))
        else:
            lines = summarise_layers(analysis.layers_of(block.name), zh=zh)
            boxes.append(DiagramBox(title, lines + footer, block.kind))
    return boxes


def block_diagram_html(spec: object, analysis: Analysis, *, zh: bool = False) -> str:
    """The boxes left to right as HTML (cheap for a browser to redraw on every edit, unlike a Plotly figure).

    Concatenated branches are stacked, each as tall as its share of the output channels; a residual block
    shows its main path over its shortcut (identity or 1x1 projection) and the sign of their sum. ``spec`` is
    accepted for callers that pass it; everything shown comes from the analysis's block record.
    """
    columns = []
    words = _WORDS[zh]
    for box in diagram_boxes(analysis, zh=zh):
        lines = "".join(f'<div class="dg-line">{html.escape(line)}</div>' for line in box.lines)
        branches = ""
        if box.branches:
            total = sum(channels for _, channels in box.branches) or 1
            cells = []
            for index, ((label, channels), color) in enumerate(zip(box.branches, _BRANCH_COLORS)):
                grow = max(channels / total, 0.08) if box.merge == "concat" else 1
                shortcut = box.merge == "add" and index > 0
                identity = shortcut and label == words["identity"]
                style = f"flex-grow:{grow:.3f};background:{'#888' if identity else color}"
                prefix = words["shortcut"] if shortcut else ""
                cells.append(f'<div class="dg-branch" style="{style}">{html.escape(prefix + label)}</div>')
            joiner = '<div class="dg-merge">⊕</div>' if box.merge == "add" else ""
            branches = f'<div class="dg-branches dg-{box.merge or "none"}">' + joiner.join(cells) + "</div>"
        columns.append(f'<div class="dg-box dg-kind-{html.escape(box.kind)}" '
                       f'style="background:{_COLORS.get(box.kind, "#EEE")}">'
                       f'<div class="dg-title">{html.escape(box.title)}</div>{lines}{branches}</div>')
    return '<div class="dg" id="block-diagram">' + '<div class="dg-arrow">→</div>'.join(columns) + "</div>"


#: Styles for :func:`block_diagram_html` (the app adds them to the page).
#: Text wraps only between words ("FC 4096 → 1000" never becomes "FC 40" / "96"), and no box clips its text: a box
#: grows to fit, and a row of boxes wider than the page wraps whole boxes to the next line.
DIAGRAM_CSS = """
.dg {display: flex; flex-wrap: wrap; align-items: stretch; gap: 4px; padding: 6px 2px 10px; max-width: 100%;}
.dg-box {flex: 0 0 auto; min-width: 104px; max-width: 170px; border: 1px solid #888; border-radius: 6px;
         padding: 6px; font-size: 11px; line-height: 1.35; color: #222; display: flex; flex-direction: column;
         overflow-wrap: break-word; word-break: normal; hyphens: none; overflow: visible;}
.dg-title {font-weight: 700; font-size: 12px; margin-bottom: 3px;}
.dg-arrow {align-self: center; color: #888; font-size: 16px;}
.dg-branches {display: flex; flex-direction: column; gap: 2px; margin-top: 4px; min-height: 110px; flex: 1;}
.dg-branches.dg-add {min-height: 60px;}
.dg-branch {border-radius: 3px; padding: 1px 3px; color: #fff; font-size: 10px; flex-shrink: 0;
            display: flex; align-items: center; min-height: min-content;}
.dg-merge {align-self: center; font-size: 13px; color: #333; line-height: 1.2;}
"""
