"""VGG: why stacks of 3x3 convolutions, where the parameters are, FC layers as convolutions."""
from __future__ import annotations

from ..analysis import Analysis, BlockAnalysis
from ..report import shape_text
from ..specs import VGGSpec
from . import (Lesson, Question, describe_layer_params, network_line, parameters_section, pick, plural,
               receptive_field_section, size_text)
from .facts import StackedConvs, blocks_of_kind, convs_of, first_fc, map_before, percent


def _stacks(analysis: Analysis) -> list[tuple[BlockAnalysis, StackedConvs]]:
    """Each VGG block with its stack of convs (their number, kernel and width, as measured)."""
    found = []
    for block in blocks_of_kind(analysis, "conv_block"):
        convs = convs_of(analysis, block)
        if convs:
            found.append((block, StackedConvs(len(convs), block.output_shape[0], convs[0].kernel_size or 3)))
    return found


def explain(spec: VGGSpec, analysis: Analysis, *, zh: bool = False) -> str:
    """Why stacks of 3x3 convolutions, with this network's widths."""
    if zh:
        return _explain_zh(spec, analysis)
    lines = ["### Why stacks of 3x3 convolutions?",
             "Two 3x3 convs in a row see a 5x5 window, three see 7x7, with fewer parameters and one more ReLU "
             "each. For C channels in and out, n stacked 3x3 convs have n·(9·C² + C) parameters; one conv with "
             "the same window has (2n+1)²·C² + C."]
    rows = [f"| {block.name} | {stack.num_convs} × 3x3, {stack.channels} ch | {size_text(stack.window)} | "
            f"{stack.stacked_params:,} | {stack.single_params:,} | {percent(stack.saved, stack.single_params)} "
            "fewer |" for block, stack in _stacks(analysis) if stack.num_convs >= 2]
    if rows:
        lines += ["", "| block | stack | sees | stacked params | one big conv | saving |",
                  "|---|---|---|---|---|---|", *rows]
    else:
        lines.append("\nNo block of this network stacks two convs yet: try `(2, 128)` in `conv_arch`.")
    lines += ["", parameters_section(analysis), "", receptive_field_section(analysis)]
    fc = first_fc(analysis)
    if fc is not None:
        read = map_before(analysis, fc) or fc.input_shape
        weights = fc.params - fc.output_shape[0]
        kernel = spec.classifier_kernel()
        lines += ["", "### FC layers as convolutions (the *FC as conv* toggle)",
                  f"The first FC layer reads a {shape_text(read)} map: {weights:,} weights. The same weights can "
                  f"be a {kernel}x{kernel} convolution, and the other FC layers 1x1 convolutions. Then the network "
                  "accepts any input large enough and produces a map of class scores, which is averaged. "
                  + ("It is **on**: the parameter count is unchanged." if spec.fc_as_conv else "It is off.")]
    return "\n".join(lines)


def _explain_zh(spec: VGGSpec, analysis: Analysis) -> str:
    """:func:`explain` in Simplified Chinese, with the same numbers."""
    lines = ["### 为什么堆叠 3x3 卷积？",
             "连续两个 3x3 卷积层看到 5x5 的窗口，连续三个看到 7x7 的窗口，而参数更少，并且每多一层就多一个 ReLU。"
             "输入和输出都是 C 个通道时，n 个堆叠的 3x3 卷积层有 n·(9·C² + C) 个参数；窗口相同的单个卷积层有 "
             "(2n+1)²·C² + C 个。"]
    rows = [f"| {block.name} | {stack.num_convs} × 3x3，{stack.channels} 通道 | {size_text(stack.window)} | "
            f"{stack.stacked_params:,} | {stack.single_params:,} | 少 {percent(stack.saved, stack.single_params)} |"
            for block, stack in _stacks(analysis) if stack.num_convs >= 2]
    if rows:
        lines += ["", "| 块 | 堆叠 | 看到的窗口 | 堆叠的参数量 | 一个大卷积层 | 节省 |",
                  "|---|---|---|---|---|---|", *rows]
    else:
        lines.append("\n这个网络还没有哪个块堆叠两个卷积层：试试在 `conv_arch` 中写 `(2, 128)`。")
    lines += ["", parameters_section(analysis, zh=True), "", receptive_field_section(analysis, zh=True)]
    fc = first_fc(analysis)
    if fc is not None:
        read = map_before(analysis, fc) or fc.input_shape
        weights = fc.params - fc.output_shape[0]
        kernel = spec.classifier_kernel()
        lines += ["", "### 把全连接层当作卷积层（*全连接层改为卷积* 开关）",
                  f"第一个全连接层读入一张 {shape_text(read)} 的特征图：{weights:,} 个权重。同样的权重可以看作一个 "
                  f"{kernel}x{kernel} 卷积层，其余全连接层则是 1x1 卷积层。这样网络就能接受任何足够大的输入，"
                  "输出一张类别分数图，再对它取平均。"
                  + ("该开关已**打开**：参数量不变。" if spec.fc_as_conv else "该开关现在关闭。")]
    return "\n".join(lines)


# --- the lesson ---------------------------------------------------------------------------------------------------
STEPS = """\
1. Click **{load}** to load `vgg16`, then open the **{explore}** tab.
2. Look at the block diagram: five blocks of 3x3 convolutions, each closed by a 2x2 max-pool that halves the
   height and width, while the channels double from 64 to 512.
3. Switch the **{chart}** to *{shape_flow}*: the map shrinks from 224x224 to 7x7 while the channels grow.
4. Switch it to *{parameters}* and tick *{log_scale}*: find the one layer that dwarfs all the others.
5. In the **{layers}** table, read the **RF** column (receptive field): how far one output can see grows with each
   conv and each pool.
6. Edit `conv_arch`: give block 4 a different width or depth, e.g. `(2, 256)`, then come back here — the
   questions and answers follow your edit. The accordion *{why}* has the 3x3 table for every block.
"""

STEPS_ZH = """\
1. 点击**{load}**载入 `vgg16`，然后打开**{explore}**页。
2. 看结构图：五个由 3x3 卷积组成的块，每块以一个 2x2 最大池化层结束，它把高和宽减半，而通道数从 64 翻倍增长到 512。
3. 把**{chart}**切换到*{shape_flow}*：特征图从 224x224 缩小到 7x7，通道数则不断增加。
4. 切换到*{parameters}*并勾选*{log_scale}*：找出那个远远大于其他层的层。
5. 在**{layers}**表中看 **RF** 列（感受野）：一个输出能看到的范围随每个卷积层和每个池化层增长。
6. 编辑 `conv_arch`：给第 4 块换一个宽度或深度，例如 `(2, 256)`，再回到这里——问题和答案会随你的修改而变。
   折叠面板*{why}*里有每个块的 3x3 对照表。
"""


def describe(spec: VGGSpec, analysis: Analysis, *, zh: bool = False) -> str:
    stacks = _stacks(analysis)
    sizes = " → ".join([str(analysis.input_shape[-1]), *(str(block.output_shape[-1]) for block, _ in stacks)])
    blocks = ", ".join(f"{stack.num_convs}×{stack.channels}" for _, stack in stacks)
    if zh:
        num_convs = sum(stack.num_convs for _, stack in stacks)
        return (f"一个 VGG，有 {len(stacks)} 个块（{blocks}：3x3 卷积层数 × 通道数）、{num_convs} 个卷积层和 "
                f"{len(spec.hidden_sizes) + 1} 个全连接层{'（以卷积实现）' if spec.fc_as_conv else ''}。"
                f"{network_line(spec, analysis, zh=True)}最大池化层让特征图的边长依次为 {sizes} 像素。")
    fc_layers = plural(len(spec.hidden_sizes) + 1, "fully connected layer")
    return (f"A VGG with {plural(len(stacks), 'block')} ({blocks}: number of 3x3 convs × channels), "
            f"{plural(sum(stack.num_convs for _, stack in stacks), 'conv layer')} and {fc_layers}"
            f"{' (as convolutions)' if spec.fc_as_conv else ''}. {network_line(spec, analysis)} "
            f"The max-pools take the map through {sizes} pixels per side.")


def _stack_block(stacks: list[tuple[BlockAnalysis, StackedConvs]]) -> int:
    """The block the 3x3 question is about (0-based): block 4 when it stacks convs, else the deepest stack."""
    if len(stacks) >= 4 and stacks[3][1].num_convs >= 2:
        return 3
    deepest = max(stack.num_convs for _, stack in stacks)
    return max(index for index, (_, stack) in enumerate(stacks) if stack.num_convs == deepest)


def ask(spec: VGGSpec, analysis: Analysis, *, zh: bool = False) -> list[Question]:
    questions = []
    # Q1: n stacked 3x3 convs vs one (2n+1)x(2n+1) conv, C channels in and out.
    stacks = _stacks(analysis)
    index = _stack_block(stacks)
    block, stack = stacks[index]
    channels, num_convs, window = stack.channels, stack.num_convs, stack.window
    convs = convs_of(analysis, block)
    actual = sum(layer.params for layer in convs)
    first_in = convs[0].input_shape[0]
    if num_convs == 1:
        stack_text = pick(zh, f"Block {index + 1} has a single 3x3 conv of {channels} channels (it sees 3x3 pixels).",
                          f"第 {index + 1} 块只有一个 {channels} 通道的 3x3 卷积层（它看到 3x3 个像素）。")
        saving = pick(zh, "No block of this network stacks 3x3 convs, so there is nothing to save: edit `conv_arch` "
                          "to `(3, 512)` for a block and ask again.",
                      "这个网络没有哪个块堆叠了多个 3x3 卷积，所以没有可节省的：把 `conv_arch` 中某一块改成 `(3, 512)` "
                      "再看一次。")
    else:
        stack_text = pick(zh, f"Block {index + 1} stacks {num_convs} 3x3 convs of {channels} channels; together "
                              f"they see a {size_text(window)} window.",
                          f"第 {index + 1} 块堆叠了 {num_convs} 个 {channels} 通道的 3x3 卷积层；它们合起来看到 "
                          f"{size_text(window)} 的窗口。")
        saving = pick(zh, f"The stack has {percent(stack.saved, stack.single_params)} fewer parameters and "
                          f"{num_convs} ReLUs instead of one.",
                      f"堆叠的参数少 {percent(stack.saved, stack.single_params)}，而且有 {num_convs} 个 ReLU 而不是一个。")
    if first_in == channels:
        real = pick(zh, f"In this network the block reads {first_in} channels, so its convs hold exactly "
                        f"{actual:,} parameters (the Layers table).",
                    f"在这个网络中该块读入 {first_in} 个通道，所以它的卷积层正好有 {actual:,} 个参数（见各层表）。")
    else:
        real = pick(zh, f"In this network the block's first conv reads {first_in} channels from the block before, "
                        f"so the block's convs really hold {actual:,} parameters (the Layers table).",
                    f"在这个网络中该块的第一个卷积层从前一块读入 {first_in} 个通道，所以该块的卷积层实际有 "
                    f"{actual:,} 个参数（见各层表）。")
    questions.append(Question(
        prompt=pick(zh, f"{stack_text} With {channels} channels in and out, how many parameters (weights + biases) "
                        f"does the stack have, and how many would one {size_text(window)} conv of the same width "
                        "have?",
                    f"{stack_text}输入和输出都是 {channels} 个通道时，这组堆叠有多少个参数（权重 + 偏置）？同样宽度的"
                    f"单个 {size_text(window)} 卷积层又有多少个？"),
        answer=pick(zh, f"{stack.stacked_params:,} vs {stack.single_params:,}",
                    f"{stack.stacked_params:,} 对 {stack.single_params:,}"),
        explanation=(f"n·(9·C² + C) = {num_convs}·(9·{channels}² + {channels}) = {stack.stacked_params:,}; "
                     f"(2n+1)²·C² + C = {window * window}·{channels}² + {channels} = {stack.single_params:,}"
                     + pick(zh, f". {saving} {real}", f"。{saving}{real}"))))

    # Q2: the largest layer.
    biggest = max(analysis.layers, key=lambda layer: layer.params)
    linear = biggest.kind == "linear"
    questions.append(Question(
        prompt=pick(zh, "Which layer holds the most parameters, and how many?", "哪一层的参数最多？有多少个？"),
        answer=pick(zh, f"{biggest.name} ({biggest.params:,} parameters)", f"{biggest.name}（{biggest.params:,} 个参数）"),
        explanation=pick(
            zh, f"{describe_layer_params(analysis, biggest)} That is {percent(biggest.params, analysis.total_params)} "
                f"of all {analysis.total_params:,} parameters."
                + (" A conv reuses its small kernel at every position; a fully connected layer has one weight per "
                   "input value and output." if linear else ""),
            f"{describe_layer_params(analysis, biggest, zh=True)}这占全部 {analysis.total_params:,} 个参数的 "
            f"{percent(biggest.params, analysis.total_params)}。"
            + ("卷积层在每个位置重复使用它的小卷积核；全连接层则为每个输入值和每个输出各配一个权重。" if linear else ""))))

    # Q3: receptive field of the last block's output, its max-pool ("pool5" in VGG-16).
    last = stacks[-1][0]
    pool = next(layer for layer in reversed(analysis.layers_of(last.name)) if layer.kind == "maxpool")
    steps = ", ".join(f"{block.name}: {block.receptive_field}" for block, _ in stacks)
    larger = last.receptive_field > analysis.input_shape[-1]
    beyond = pick(zh, f" That is more than the {analysis.input_shape[-1]}-pixel input: the outer part of the window "
                      "is padding.", f"这比 {analysis.input_shape[-1]} 像素的输入还大：窗口的外围部分是填充。"
                  ) if larger else ""
    questions.append(Question(
        prompt=pick(zh, f"What is the receptive field of the last max-pool (`{pool.name}`, pool{len(stacks)}): how "
                        "many input pixels per side can one of its outputs see?",
                    f"最后一个最大池化层（`{pool.name}`，即 pool{len(stacks)}）的感受野是多少：它的一个输出在每条边上"
                    "能看到多少个输入像素？"),
        answer=last.receptive_field,
        explanation=pick(
            zh, "Each 3x3 conv adds 2·jump pixels and each 2x2/2 max-pool adds 1·jump, then doubles the jump (the "
                f"input pixels between neighbouring outputs, 1 at the input). After each block: {steps}.{beyond} "
                "This is the headline's receptive field; the RF column of the Layers table shows every step, and a "
                "larger one from the head's flatten on (it reads the whole map).",
            "每个 3x3 卷积层加上 2·jump 个像素，每个 2x2/2 最大池化层加上 1·jump，然后把 jump 翻倍（jump 是相邻"
            f"输出之间相隔的输入像素数，在输入处为 1）。每块之后：{steps}。{beyond}这就是顶部卡片上的感受野；"
            "各层表的 RF 列显示每一步，从输出部分的展平（flatten）开始数值更大（它读取整张特征图）。")))
    return questions


LESSONS: tuple[Lesson, ...] = (
    Lesson(id="vgg", title="VGG: blocks of 3x3 convolutions, and why 3x3", preset="vgg16", family="vgg",
           steps=STEPS, describe=describe, ask=ask, title_zh="VGG：由 3x3 卷积组成的块，以及为什么是 3x3",
           steps_zh=STEPS_ZH),
)
