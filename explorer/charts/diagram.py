"""A block diagram of the network: repeated VGG convs collapsed as "3x3 conv x n", Inception branches side by
side with their widths. Pure: spec + analysis -> HTML."""
from __future__ import annotations

from dataclasses import dataclass, field

import html

from ..analysis import Analysis
from ..report import human_count, shape_text
from ..specs import AlexNetSpec, GoogLeNetSpec, NiNSpec, Spec, VGGSpec
from ..specs.googlenet import INCEPTION_NAMES

_COLORS = {"conv": "#DCE8F5", "pool": "#FCE3CC", "head": "#E3F1DC", "inception": "#EFE3F3", "aux": "#F5F5F5"}
_BRANCH_COLORS = ("#4C78A8", "#54A24B", "#C0504D", "#E08214")


@dataclass
class DiagramBox:
    """One column of the diagram."""

    title: str
    lines: list[str]
    kind: str  # conv, pool, head, inception, aux
    branches: list[tuple[str, int]] = field(default_factory=list)  # (label, out channels), Inception only


def diagram_boxes(spec: Spec, analysis: Analysis) -> list[DiagramBox]:
    """The blocks of ``spec`` as labelled boxes, in order, with their output shapes from the analysis."""
    totals = {row["block"]: row for row in analysis.block_totals()}

    def footer(block: str) -> list[str]:
        row = totals.get(block)
        if not row:
            return []
        return [f"→ {shape_text(row['output_shape'])}", f"{human_count(row['params'])} params"]

    boxes: list[DiagramBox] = []
    if isinstance(spec, VGGSpec):
        for index, ((num_convs, _), width) in enumerate(zip(spec.conv_arch, spec.block_channels), 1):
            conv = f"3x3 conv × {num_convs}" if num_convs > 1 else "3x3 conv"
            lines = [conv + (" + BN" if spec.batch_norm else ""), f"{width} channels", "2x2 max-pool"]
            boxes.append(DiagramBox(f"block {index}", lines + footer(f"block{index}"), "conv"))
        fc = " → ".join(str(width) for width in (*spec.hidden_sizes, spec.num_classes))
        kind = "FC as conv" if spec.fc_as_conv else "FC"
        boxes.append(DiagramBox("classifier", [f"{kind} {fc}"] + footer("head"), "head"))
    elif isinstance(spec, AlexNetSpec):
        geometry = [(spec.conv1_kernel, spec.conv1_stride), (5, 1), (3, 1), (3, 1), (3, 1)]
        pool = "3x3/2 max-pool" if spec.overlapping_pool else "2x2/2 max-pool"
        for conv, ((kernel, stride), width) in enumerate(zip(geometry, spec.conv_channels), 1):
            lines = [f"{kernel}x{kernel}/{stride} conv", f"{width} channels"]
            if spec.conv_groups(conv) > 1:
                lines.append(f"{spec.conv_groups(conv)} groups")
            if spec.lrn and conv in (1, 2):
                lines.append("LRN")
            if conv in (1, 2, 5):
                lines.append(pool)
            boxes.append(DiagramBox(f"conv{conv}", lines + footer(f"conv{conv}"), "conv"))
        fc = " → ".join(str(width) for width in (*spec.hidden_sizes, spec.num_classes))
        boxes.append(DiagramBox("classifier", [f"FC {fc}"] + footer("head"), "head"))
    elif isinstance(spec, NiNSpec):
        for index, block in enumerate(spec.blocks, 1):
            widths = ", ".join(str(width) for width in block.one_by_one_channels)
            lines = [f"{block.kernel_size}x{block.kernel_size}/{block.stride} conv {block.out_channels}",
                     f"1x1 convs {widths}", f"{spec.pool_kernel}x{spec.pool_kernel}/{spec.pool_stride} max-pool"]
            boxes.append(DiagramBox(f"NiN block {index}", lines + footer(f"nin{index}"), "conv"))
        kernel = spec.head_kernel_size
        boxes.append(DiagramBox("classifier", [f"{kernel}x{kernel} conv {spec.num_classes}", "1x1 convs",
                                               "global avg-pool"] + footer("head"), "head"))
    elif isinstance(spec, GoogLeNetSpec):
        conv1, conv2, conv3 = spec.stem_channels
        boxes.append(DiagramBox("stem", [f"7x7/2 conv {conv1}", "3x3/2 max-pool", f"1x1 conv {conv2}",
                                         f"3x3 conv {conv3}"] + footer("stem"), "conv"))
        wide = spec.ch5x5_kernel
        for name, block, in_channels in zip(INCEPTION_NAMES, spec.inceptions, spec.inception_in_channels()):
            pool_block = f"pool{name[0]}"
            if name in ("3a", "4a", "5a") and pool_block in totals:
                boxes.append(DiagramBox("max-pool", ["stride 2"] + footer(pool_block)[:1], "pool"))
            branches = [(f"1x1 {block.ch1x1}", block.ch1x1),
                        (f"1x1 {block.ch3x3red} → 3x3 {block.ch3x3}", block.ch3x3),
                        (f"1x1 {block.ch5x5red} → {wide}x{wide} {block.ch5x5}", block.ch5x5),
                        (f"pool → 1x1 {block.pool_proj}", block.pool_proj)]
            boxes.append(DiagramBox(f"inception {name}", [f"{in_channels} → {block.out_channels}"]
                                    + footer(f"inception{name}"), "inception", branches))
        boxes.append(DiagramBox("head", ["global avg-pool", f"FC {spec.num_classes}"] + footer("head"), "head"))
    return boxes


def block_diagram_html(spec: Spec, analysis: Analysis) -> str:
    """The boxes left to right as HTML (cheap for a browser to redraw on every edit, unlike a Plotly figure);
    Inception columns show their four branches stacked, each as tall as its share of the output channels."""
    columns = []
    for box in diagram_boxes(spec, analysis):
        lines = "".join(f'<div class="dg-line">{html.escape(line)}</div>' for line in box.lines)
        branches = ""
        if box.branches:
            total = sum(channels for _, channels in box.branches) or 1
            branches = '<div class="dg-branches">' + "".join(
                f'<div class="dg-branch" style="flex-grow:{max(channels / total, 0.08):.3f};'
                f'background:{color}">{html.escape(label)}</div>'
                for (label, channels), color in zip(box.branches, _BRANCH_COLORS)) + "</div>"
        columns.append(f'<div class="dg-box" style="background:{_COLORS.get(box.kind, "#EEE")}">'
                       f'<div class="dg-title">{html.escape(box.title)}</div>{lines}{branches}</div>')
    return '<div class="dg" id="block-diagram">' + '<div class="dg-arrow">→</div>'.join(columns) + "</div>"


#: Styles for :func:`block_diagram_html` (the app adds them to the page).
DIAGRAM_CSS = """
.dg {display: flex; align-items: stretch; gap: 4px; overflow-x: auto; padding: 6px 2px 10px;}
.dg-box {flex: 0 0 auto; min-width: 104px; max-width: 150px; border: 1px solid #888; border-radius: 6px;
         padding: 6px; font-size: 11px; line-height: 1.35; color: #222; display: flex; flex-direction: column;}
.dg-title {font-weight: 700; font-size: 12px; margin-bottom: 3px;}
.dg-arrow {align-self: center; color: #888; font-size: 16px;}
.dg-branches {display: flex; flex-direction: column; gap: 2px; margin-top: 4px; min-height: 110px; flex: 1;}
.dg-branch {border-radius: 3px; padding: 1px 3px; color: #fff; font-size: 10px; overflow: hidden;
            display: flex; align-items: center;}
"""
