"""Explanations written with the user's own numbers (Markdown). Pure: spec + analysis -> text."""
from __future__ import annotations

from .analysis import Analysis
from .report import human_count
from .specs import AlexNetSpec, GoogLeNetSpec, NiNSpec, Spec, VGGSpec
from .specs.budget import conv_output_size
from .specs.googlenet import INCEPTION_NAMES


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "n/a"


def explain(spec: Spec, analysis: Analysis) -> str:
    """Why this network looks the way it does, computed for the current widths and sizes."""
    if isinstance(spec, VGGSpec):
        return explain_vgg(spec, analysis)
    if isinstance(spec, GoogLeNetSpec):
        return explain_googlenet(spec, analysis)
    if isinstance(spec, NiNSpec):
        return explain_nin(spec, analysis)
    return explain_alexnet(spec, analysis)


def _head_share(analysis: Analysis) -> str:
    head = sum(layer.params for layer in analysis.layers if layer.block == "head")
    return (f"The classifier head holds **{head:,}** of the **{analysis.total_params:,}** parameters "
            f"({_pct(head, analysis.total_params)}), while the convolutions do "
            f"{_pct(sum(l.macs for l in analysis.layers if l.block != 'head'), analysis.total_macs)} of the "
            "multiply-adds.")


def explain_vgg(spec: VGGSpec, analysis: Analysis) -> str:
    lines = ["### Why stacks of 3x3 convolutions?",
             "Two 3x3 convs in a row see a 5x5 window, three see 7x7, with fewer weights and one more ReLU "
             "each. For C channels in and out, n stacked 3x3 convs have n·9·C² weights; one conv with the "
             "same window has (2n+1)²·C²."]
    rows = []
    for index, ((num_convs, _), channels) in enumerate(zip(spec.conv_arch, spec.block_channels), 1):
        if num_convs < 2:
            continue
        window = 2 * num_convs + 1
        stacked = num_convs * 9 * channels * channels
        single = window * window * channels * channels
        rows.append(f"| block {index} | {num_convs} × 3x3, {channels} ch | {window}x{window} | {stacked:,} | "
                    f"{single:,} | {_pct(single - stacked, single)} fewer |")
    if rows:
        lines += ["", "| block | stack | sees | stacked weights | one big conv | saving |",
                  "|---|---|---|---|---|---|", *rows]
    else:
        lines.append("\nNo block of this network stacks two convs yet: try `(2, 128)` in `conv_arch`.")
    lines += ["", "### Where the parameters are", _head_share(analysis)]
    kernel = spec.classifier_kernel()
    first_fc = spec.block_channels[-1] * kernel * kernel * (spec.hidden_sizes[0] if spec.hidden_sizes
                                                            else spec.num_classes)
    lines += ["", "### FC layers as convolutions (the *FC as conv* toggle)",
              f"The first FC layer reads a {spec.block_channels[-1]}x{kernel}x{kernel} map: {first_fc:,} weights. "
              f"The same weights can be a {kernel}x{kernel} convolution, and the other FC layers 1x1 "
              "convolutions. Then the network accepts any input large enough and produces a map of class "
              "scores, which is averaged. "
              + ("It is **on**: the parameter count is unchanged." if spec.fc_as_conv else "It is off.")]
    return "\n".join(lines)


def explain_googlenet(spec: GoogLeNetSpec, analysis: Analysis) -> str:
    wide = spec.ch5x5_kernel
    lines = ["### What the 1x1 reductions save",
             f"Each Inception block runs a 1x1 conv before its 3x3 and {wide}x{wide} branches. Without it, "
             "those convs would read all input channels"
             + (" (the wide branch is 3x3 here, as in torchvision; the paper's is 5x5):" if wide == 3 else ":"),
             "", "| block | in → out | 3x3 branch with / without 1x1 | "
             f"{wide}x{wide} branch with / without 1x1 | saving |", "|---|---|---|---|---|"]
    total_with = total_without = 0
    for name, block, in_channels in zip(INCEPTION_NAMES, spec.inceptions, spec.inception_in_channels()):
        with_3 = in_channels * block.ch3x3red + block.ch3x3red * 9 * block.ch3x3
        without_3 = in_channels * 9 * block.ch3x3
        with_5 = in_channels * block.ch5x5red + block.ch5x5red * wide * wide * block.ch5x5
        without_5 = in_channels * wide * wide * block.ch5x5
        total_with += with_3 + with_5
        total_without += without_3 + without_5
        lines.append(f"| {name} | {in_channels} → {block.out_channels} | {with_3:,} / {without_3:,} | "
                     f"{with_5:,} / {without_5:,} | {_pct(without_3 + without_5 - with_3 - with_5, without_3 + without_5)} |")
    lines += ["", f"Over the nine blocks the reductions keep **{total_with:,}** weights in those branches instead of "
                  f"**{total_without:,}** ({_pct(total_without - total_with, total_without)} fewer)."]
    plain = sum(in_channels * 9 * block.out_channels
                for block, in_channels in zip(spec.inceptions, spec.inception_in_channels()))
    inception_params = sum(row["params"] for row in analysis.block_totals() if row["block"].startswith("inception"))
    lines += ["", "### Against a VGG-style stack of the same depth",
              f"Nine plain 3x3 convs with the same input and output widths would need **{plain:,}** weights; the "
              f"nine Inception blocks have **{inception_params:,}** parameters "
              f"({_pct(inception_params, plain)} of that), and still mix 1x1, 3x3 and {wide}x{wide} views.",
              "", "### The head", _head_share(analysis) + " Global average pooling replaces VGG's huge FC layers."]
    return "\n".join(lines)


def explain_nin(spec: NiNSpec, analysis: Analysis) -> str:
    lines = ["### The 1x1 convolutions", "A 1x1 conv is a small fully connected layer applied at every pixel: "
             "it mixes channels without looking at neighbours. Costs in this network:", "",
             "| block | kxk conv params | 1x1 convs params | a 3x3 conv instead of each 1x1 |", "|---|---|---|---|"]
    for index, block in enumerate(spec.blocks, 1):
        layers = [layer for layer in analysis.layers if layer.block == f"nin{index}" and layer.kind == "conv"]
        if not layers:
            continue
        one_by_one = sum(layer.params for layer in layers[1:])
        as_3x3 = sum(9 * (layer.params - layer.output_shape[0]) + layer.output_shape[0] for layer in layers[1:])
        lines.append(f"| {index} | {layers[0].params:,} | {one_by_one:,} | {as_3x3:,} |")
    before_head = [layer for layer in analysis.layers if layer.block != "head"]
    last = before_head[-1].output_shape if before_head else (0, 0, 0)
    fc_equivalent = (last[0] * last[1] * last[2] if len(last) == 3 else 0) * 4096
    head = sum(layer.params for layer in analysis.layers if layer.block == "head")
    lines += ["", "### Global average pooling instead of FC layers",
              f"The features end as a {'x'.join(map(str, last))} map. The NiN head (a conv block with one channel "
              f"per class, then an average over space) has **{head:,}** parameters. A VGG/AlexNet-style first FC "
              f"layer of 4096 units on that map alone would need **{fc_equivalent:,}**."]
    return "\n".join(lines)


def explain_alexnet(spec: AlexNetSpec, analysis: Analysis) -> str:
    size = conv_output_size(spec.input_size, spec.conv1_kernel, spec.conv1_stride, spec.conv1_padding)
    overlap = conv_output_size(size, 3, 2)
    plain = conv_output_size(size, 2, 2)
    lines = ["### Local response normalisation",
             f"LRN divides each activation by (k + α·Σ a²)^β, the sum over n = {spec.lrn_size} neighbouring channels "
             f"(k = {spec.lrn_k:g}, α = {spec.lrn_alpha:g}, β = {spec.lrn_beta:g}): bright channels dampen their "
             "neighbours. It has no parameters. " + ("It is **on** after conv1 and conv2." if spec.lrn else
                                                    "It is off (torchvision drops it; batch norm replaced it later)."),
             "", "### Overlapping pooling",
             f"After conv1 the map is {size}x{size}. A 3x3 window with stride 2 (overlapping) gives {overlap}x{overlap}; "
             f"a 2x2 window with stride 2 gives {plain}x{plain}. The paper reports overlapping pooling lowered the "
             "top-1 error by 0.4% and made over-fitting slightly harder. "
             + ("This network uses overlapping pools." if spec.overlapping_pool else "This network uses 2x2 pools.")]
    grouped = [layer for layer in analysis.layers if layer.kind == "conv" and layer.groups > 1]
    if grouped:
        saved = sum(layer.params * (layer.groups - 1) - layer.output_shape[0] * (layer.groups - 1)
                    for layer in grouped)
        lines += ["", "### Two GPUs: grouped convolutions",
                  f"conv2, conv4 and conv5 are split in {spec.groups} groups: each half only reads the channels on "
                  f"its own GPU. That saves **{saved:,}** weights ({human_count(saved)}) against full convs."]
    else:
        lines += ["", "### Two GPUs: grouped convolutions",
                  "The original network split conv2, conv4 and conv5 between two GPUs (groups = 2), each half "
                  "reading only its own channels. Set groups to 2 to see the saving."]
    lines += ["", "### Where the parameters are", _head_share(analysis)]
    return "\n".join(lines)
