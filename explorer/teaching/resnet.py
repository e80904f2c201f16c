"""ResNet: what the shortcut adds (and costs), bottlenecks, and why the identity lets gradients through."""
from __future__ import annotations

from ..analysis import Analysis, BlockAnalysis
from ..report import human_count, shape_text
from ..specs.resnet import ResNetSpec
from . import Lesson, Question, network_line, parameters_section, plural, receptive_field_section
from .facts import blocks_of_kind, conv_params, convs_of, percent, ratio_zh, times


def stage_blocks(spec: ResNetSpec, analysis: Analysis) -> list[tuple[int, tuple[BlockAnalysis, ...]]]:
    """(stage number, its residual blocks), in order: the analysis records the blocks in the spec's order."""
    residual = blocks_of_kind(analysis, "residual")
    stages, start = [], 0
    for number, stage in enumerate(spec.stages, 1):
        stages.append((number, residual[start:start + stage.blocks]))
        start += stage.blocks
    return stages


def _branch(block: BlockAnalysis, name: str):  # noqa: ANN202 - BranchAnalysis
    return next(branch for branch in block.branches if branch.name == name)


def shortcut_totals(analysis: Analysis) -> tuple[int, int, int, int]:
    """(main-path params, projection-shortcut params, projections, identities) over every residual block."""
    main = projection = projections = identities = 0
    for block in blocks_of_kind(analysis, "residual"):
        main += _branch(block, "main").params
        shortcut = _branch(block, "shortcut")
        if shortcut.modules:
            projection += shortcut.params
            projections += 1
        else:
            identities += 1
    return main, projection, projections, identities


def longest_and_shortest_paths(analysis: Analysis) -> tuple[int, int]:
    """Weighted layers (convs and FC) on the longest path (every main path) and on the shortest one (every
    shortcut: projections count their 1x1 conv, identities nothing), stem and head included."""
    outside = sum(1 for block in analysis.blocks if block.kind != "residual"
                  for layer in analysis.layers_of(block.name) if layer.kind in ("conv", "linear"))
    longest = shortest = outside
    for block in blocks_of_kind(analysis, "residual"):
        longest += sum(1 for layer in convs_of(analysis, block) if not _in_shortcut(block, layer.name))
        shortest += sum(1 for layer in convs_of(analysis, block) if _in_shortcut(block, layer.name))
    return longest, shortest


def _in_shortcut(block: BlockAnalysis, layer_name: str) -> bool:
    paths = _branch(block, "shortcut").modules
    return any(layer_name == path or layer_name.startswith(path + ".") for path in paths)


def explain(spec: ResNetSpec, analysis: Analysis, *, zh: bool = False) -> str:
    """The shortcut's cost per stage, the block design, and the gradient path, with this network's numbers."""
    if zh:
        return _explain_zh(spec, analysis)
    main, projection, projections, identities = shortcut_totals(analysis)
    lines = ["### What the shortcut adds",
             "Each residual block outputs `relu(F(x) + shortcut(x))`: the convs on the main path only learn the "
             "*change* F(x) to their input. Where the shape stays the same the shortcut is the identity (no "
             "parameters, one addition per value); where a stage's first block strides or widens, a 1x1 conv "
             f"({'with BN' if spec.shortcut_bn else 'without BN'}) projects x to the new shape.", "",
             "| stage | blocks | output | main path params | shortcut params | identity shortcuts |",
             "|---|---|---|---|---|---|"]
    for number, blocks in stage_blocks(spec, analysis):
        if not blocks:
            continue
        stage_main = sum(_branch(block, "main").params for block in blocks)
        stage_short = sum(_branch(block, "shortcut").params for block in blocks)
        stage_identity = sum(1 for block in blocks if not _branch(block, "shortcut").modules)
        lines.append(f"| {number} | {len(blocks)} | {shape_text(blocks[-1].output_shape)} | {stage_main:,} | "
                     f"{stage_short:,} | {stage_identity} of {len(blocks)} |")
    lines += ["", f"Over the network: {plural(identities, 'identity shortcut')} (0 parameters) and "
                  f"{plural(projections, 'projection')} holding **{projection:,}** parameters, "
                  f"{percent(projection, main + projection)} of the residual blocks' {main + projection:,}."]
    longest, shortest = longest_and_shortest_paths(analysis)
    lines += ["", "### Why the identity lets gradients through",
              "For one block, y = x + F(x), so ∂y/∂x = I + ∂F/∂x: the gradient reaching y passes to x "
              f"unchanged, plus whatever the convs add. This network has **{longest}** weighted layers on its "
              f"longest path (every main path) but only **{shortest}** on its shortest one (through every "
              f"shortcut): the loss's gradient reaches the stem through {shortest} layers instead of being "
              f"multiplied by {longest} Jacobians in a row, as it would in a plain network of the same depth. "
              "That is why ResNets train at depths where plain stacks of convs get worse (He et al., 2015, Figure 1)."]
    residual = blocks_of_kind(analysis, "residual")
    if residual and spec.block == "bottleneck":
        last = residual[-1]
        out_channels, main_params = last.output_shape[0], _branch(last, "main").params
        two_3x3 = 2 * conv_params(3, out_channels, out_channels, bias=spec.conv_bias)
        lines += ["", "### The bottleneck",
                  "Each block is a 1x1 conv that reduces to the base width, a 3x3 conv that works there and a "
                  f"1x1 conv that expands 4x. The last block, `{last.name}`, maps {out_channels:,} channels to "
                  f"{out_channels:,} with **{main_params:,}** parameters on its main path; a basic block (two 3x3 "
                  f"convs) at {out_channels:,} channels would need {two_3x3:,} ({times(main_params, two_3x3)})."]
    lines += ["", "### Receptive field per stage",
              " · ".join(f"stage {number}: {blocks[-1].receptive_field} px" for number, blocks in
                         stage_blocks(spec, analysis) if blocks)
              + ". A block's shortcut sees only what its input saw; the main path's 3x3 convs widen the field.",
              "", parameters_section(analysis), "", receptive_field_section(analysis)]
    return "\n".join(lines)


def _explain_zh(spec: ResNetSpec, analysis: Analysis) -> str:
    """:func:`explain` in Simplified Chinese, with the same numbers."""
    main, projection, projections, identities = shortcut_totals(analysis)
    lines = ["### 捷径带来了什么",
             "每个残差块输出 `relu(F(x) + shortcut(x))`：主路径上的卷积层只需学习相对输入的*变化* F(x)。形状不变时，"
             "捷径就是恒等映射（没有参数，每个值只做一次加法）；当某个阶段的第一个块改变步幅或加宽通道时，由一个 1x1 卷积层"
             f"（{'带 BN' if spec.shortcut_bn else '不带 BN'}）把 x 投影到新的形状。", "",
             "| 阶段 | 块数 | 输出 | 主路径参数量 | 捷径参数量 | 恒等捷径 |",
             "|---|---|---|---|---|---|"]
    for number, blocks in stage_blocks(spec, analysis):
        if not blocks:
            continue
        stage_main = sum(_branch(block, "main").params for block in blocks)
        stage_short = sum(_branch(block, "shortcut").params for block in blocks)
        stage_identity = sum(1 for block in blocks if not _branch(block, "shortcut").modules)
        lines.append(f"| {number} | {len(blocks)} | {shape_text(blocks[-1].output_shape)} | {stage_main:,} | "
                     f"{stage_short:,} | {len(blocks)} 个中有 {stage_identity} 个 |")
    lines += ["", f"整个网络：{identities} 个恒等捷径（0 个参数）和 {projections} 个投影捷径，后者共有 "
                  f"**{projection:,}** 个参数，占残差块 {main + projection:,} 个参数的 "
                  f"{percent(projection, main + projection)}。"]
    longest, shortest = longest_and_shortest_paths(analysis)
    lines += ["", "### 为什么恒等映射能让梯度通过",
              "对一个块来说，y = x + F(x)，所以 ∂y/∂x = I + ∂F/∂x：到达 y 的梯度原封不动地传给 x，再加上卷积层贡献的部分。"
              f"这个网络在最长的路径上（走每一条主路径）有 **{longest}** 个带权重的层，而在最短的路径上（走每一条捷径）"
              f"只有 **{shortest}** 个：损失的梯度只需经过 {shortest} 个层就能到达主干（stem），而不像同样深度的普通网络那样"
              f"要连续乘上 {longest} 个雅可比矩阵。这就是为什么 ResNet 在普通卷积堆叠会变差的深度上仍然能训练"
              "（He 等，2015，图 1）。"]
    residual = blocks_of_kind(analysis, "residual")
    if residual and spec.block == "bottleneck":
        last = residual[-1]
        out_channels, main_params = last.output_shape[0], _branch(last, "main").params
        two_3x3 = 2 * conv_params(3, out_channels, out_channels, bias=spec.conv_bias)
        lines += ["", "### 瓶颈块（bottleneck）",
                  "每个块先用一个 1x1 卷积层把通道压缩到基础宽度，再用一个 3x3 卷积层在这个宽度上计算，最后用一个 "
                  f"1x1 卷积层把通道扩大到 4 倍。最后一个块 `{last.name}` 把 {out_channels:,} 个通道映射到 "
                  f"{out_channels:,} 个通道，主路径上有 **{main_params:,}** 个参数；在 {out_channels:,} 个通道上，"
                  f"一个基本块（两个 3x3 卷积层）需要 {two_3x3:,} 个（{ratio_zh(main_params, two_3x3)}）。"]
    lines += ["", "### 每个阶段的感受野",
              " · ".join(f"第 {number} 阶段：{blocks[-1].receptive_field} px" for number, blocks in
                         stage_blocks(spec, analysis) if blocks)
              + "。一个块的捷径只能看到它的输入已经看到的范围；主路径上的 3x3 卷积层会扩大感受野。",
              "", parameters_section(analysis, zh=True), "", receptive_field_section(analysis, zh=True)]
    return "\n".join(lines)


# --- the lesson ---------------------------------------------------------------------------------------------------
STEPS = """\
1. Click **{load}** to load `d2l_resnet18` (d2l's ResNet-18 for Fashion-MNIST: 1x96x96 input, 10 classes), then
   open the **{explore}** tab.
2. Look at the block diagram: a stem, then eight residual blocks in four stages, each with a main path and a
   shortcut that are added. The first block of stages 2-4 halves the size and doubles the channels.
3. Switch the **{chart}** to *{parameters}*: compare the blocks that have a 1x1-conv shortcut with those whose
   shortcut is the identity.
4. Open *{why}*: the table lists each stage's main-path and shortcut parameters.
5. Change the block type to *bottleneck*, or add a stage, then come back: the answers follow your edit.
"""

STEPS_ZH = """\
1. 点击**{load}**载入 `d2l_resnet18`（d2l 中用于 Fashion-MNIST 的 ResNet-18：输入 1x96x96，10 个类别），然后打开
   **{explore}**页。
2. 看结构图：一个主干（stem），然后是分成四个阶段的八个残差块，每个残差块都有一条主路径和一条捷径（shortcut），
   两者相加。第 2–4 阶段的第一个块把尺寸减半、通道数加倍。
3. 把**{chart}**切换到*{parameters}*：比较捷径是 1x1 卷积的块和捷径是恒等映射的块。
4. 打开*{why}*：表中列出每个阶段主路径和捷径的参数量。
5. 把块类型改为 *bottleneck*，或者添加一个阶段，然后回到这里：答案会随你的修改而变。
"""


def describe(spec: ResNetSpec, analysis: Analysis, *, zh: bool = False) -> str:
    _, _, projections, identities = shortcut_totals(analysis)
    if zh:
        return (f"一个 ResNet，有 {len(spec.stages)} 个由 {spec.block} 块组成的阶段（{spec.num_blocks} 个残差块："
                f"{identities} 个使用恒等捷径，{projections} 个使用 1x1 卷积投影）。{network_line(spec, analysis, zh=True)}")
    return (f"A ResNet with {plural(len(spec.stages), 'stage')} of {spec.block} blocks "
            f"({plural(spec.num_blocks, 'residual block')}: {identities} with an identity shortcut, "
            f"{projections} with a 1x1-conv projection). {network_line(spec, analysis)}")


def ask(spec: ResNetSpec, analysis: Analysis, *, zh: bool = False) -> list[Question]:
    if zh:
        return _ask_zh(spec, analysis)
    main, projection, projections, identities = shortcut_totals(analysis)
    questions = [Question(
        prompt=("How many parameters do all the shortcuts hold together, and how many the main paths of the "
                "residual blocks?"),
        answer=f"{projection:,} vs {main:,}",
        explanation=(f"The {identities} identity shortcuts have none: they add x as it is. The {projections} "
                     f"projections (a strided 1x1 conv{' + BN' if spec.shortcut_bn else ''}) hold {projection:,}, "
                     f"{percent(projection, main + projection)} of the blocks' parameters.")),
    ]
    longest, shortest = longest_and_shortest_paths(analysis)
    questions.append(Question(
        prompt=("Counting convs and FC layers, how deep is the longest path from input to output, and how deep "
                "the shortest (through every shortcut)?"),
        answer=f"{longest} and {shortest}",
        explanation=(f"The longest path runs through every main path ({longest} layers: the network's name "
                     f"counts these); the shortest skips every main path ({shortest} layers). Gradients reach the "
                     "first layers along the short paths, so depth does not starve them.")))
    residual = blocks_of_kind(analysis, "residual")
    if residual:
        first = residual[0]
        questions.append(Question(
            prompt=f"What shape enters the first residual block, `{first.name}`, and what shape leaves it?",
            answer=f"{shape_text(first.input_shape)} → {shape_text(first.output_shape)}",
            explanation=(f"The stem (7x7/2 conv and 3x3/2 max-pool) divides the {analysis.input_shape[-1]}-pixel "
                         f"input by 4. Both paths of `{first.name}` must give the same shape to be added; "
                         + ("here they already do, so the shortcut is the identity."
                            if not _branch(first, "shortcut").modules
                            else "here the shape changes, so the shortcut is a 1x1 conv.")
                         + f" The block costs {human_count(first.macs)} MACs.")))
    return questions


def _ask_zh(spec: ResNetSpec, analysis: Analysis) -> list[Question]:
    """:func:`ask` in Simplified Chinese (the same questions and numbers)."""
    main, projection, projections, identities = shortcut_totals(analysis)
    questions = [Question(
        prompt="所有捷径一共有多少个参数？残差块的主路径又有多少个？",
        answer=f"{projection:,} 对 {main:,}",
        explanation=(f"{identities} 个恒等捷径没有参数：它们把 x 原样加上去。{projections} 个投影捷径（一个带步幅的 "
                     f"1x1 卷积{' + BN' if spec.shortcut_bn else ''}）有 {projection:,} 个参数，占这些块参数的 "
                     f"{percent(projection, main + projection)}。")),
    ]
    longest, shortest = longest_and_shortest_paths(analysis)
    questions.append(Question(
        prompt="只数卷积层和全连接层，从输入到输出最长的路径有多深？最短的路径（经过每一条捷径）又有多深？",
        answer=f"{longest} 和 {shortest}",
        explanation=(f"最长的路径经过每一条主路径（{longest} 层：网络名字里的数字数的就是这些层）；最短的路径跳过"
                     f"每一条主路径（{shortest} 层）。梯度沿着短路径到达最前面的层，所以深度不会让它们得不到梯度。")))
    residual = blocks_of_kind(analysis, "residual")
    if residual:
        first = residual[0]
        questions.append(Question(
            prompt=f"进入第一个残差块 `{first.name}` 的张量形状是什么？离开它的又是什么？",
            answer=f"{shape_text(first.input_shape)} → {shape_text(first.output_shape)}",
            explanation=(f"主干（7x7/2 卷积和 3x3/2 最大池化）把 {analysis.input_shape[-1]} 像素的输入缩小为 1/4。"
                         f"`{first.name}` 的两条路径必须给出相同的形状才能相加；"
                         + ("这里它们已经相同，所以捷径是恒等映射。"
                            if not _branch(first, "shortcut").modules
                            else "这里形状改变了，所以捷径是一个 1x1 卷积。")
                         + f"这个块需要 {human_count(first.macs)} 次乘加运算。")))
    return questions


LESSONS: tuple[Lesson, ...] = (
    Lesson(id="resnet-shortcuts", title="ResNet: what a shortcut costs and what it buys", preset="d2l_resnet18",
           family="resnet", steps=STEPS, describe=describe, ask=ask,
           title_zh="ResNet：捷径的代价与收益", steps_zh=STEPS_ZH),
)
