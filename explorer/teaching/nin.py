"""NiN: 1x1 convolutions as per-pixel MLPs, and global average pooling instead of FC layers."""
from __future__ import annotations

import math

from ..analysis import Analysis, LayerAnalysis, analyze
from ..presets import load_preset
from ..report import human_count, shape_text
from ..specs import NiNSpec
from . import Lesson, Question, network_line, parameters_section, pick, plural, receptive_field_section
from .facts import (FC_WIDTH, blocks_of_kind, conv_params, convs_of, fc_params, head_share, last_feature_shape,
                    percent, times)

#: The network NiN is compared with in the lesson (trained on the same data in d2l).
RIVAL = "d2l_alexnet"


def explain(spec: NiNSpec, analysis: Analysis, *, zh: bool = False) -> str:
    """The cost of the 1x1 convolutions and of the global-average head, with this network's widths."""
    if zh:
        lines = ["### 1x1 卷积", "1x1 卷积就是在每个像素上应用的一个小型全连接层：它混合通道，而不看相邻像素。"
                 "这个网络中的开销：", "",
                 "| 块 | kxk 卷积层参数量 | 1x1 卷积层参数量 | 把每个 1x1 换成 3x3 卷积层 |", "|---|---|---|---|"]
    else:
        lines = ["### The 1x1 convolutions", "A 1x1 conv is a small fully connected layer applied at every pixel: "
                 "it mixes channels without looking at neighbours. Costs in this network:", "",
                 "| block | kxk conv params | 1x1 convs params | a 3x3 conv instead of each 1x1 |", "|---|---|---|---|"]
    for block in blocks_of_kind(analysis, "conv_block"):
        convs = convs_of(analysis, block)
        if not convs:
            continue
        one_by_one = sum(layer.params for layer in convs[1:])
        as_3x3 = sum(conv_params(3, layer.input_shape[0], layer.output_shape[0]) for layer in convs[1:])
        lines.append(f"| {block.name} | {convs[0].params:,} | {one_by_one:,} | {as_3x3:,} |")
    feature_map = last_feature_shape(analysis)
    head = head_share(analysis).head_params
    if zh:
        lines += ["", "### 用全局平均池化代替全连接层",
                  f"特征部分最后输出一张 {shape_text(feature_map)} 的特征图。NiN 的输出部分（一个每个类别一个通道的卷积块，"
                  f"再在空间上取平均）有 **{head:,}** 个参数。而在这张特征图上，仅一个 VGG/AlexNet 式的、有 "
                  f"{FC_WIDTH:,} 个单元的第一个全连接层就需要 **{fc_params(feature_map):,}** 个参数。",
                  "", parameters_section(analysis, zh=True), "", receptive_field_section(analysis, zh=True)]
        return "\n".join(lines)
    lines += ["", "### Global average pooling instead of FC layers",
              f"The features end as a {shape_text(feature_map)} map. The NiN head (a conv block with one channel "
              f"per class, then an average over space) has **{head:,}** parameters. A VGG/AlexNet-style first FC "
              f"layer of {FC_WIDTH:,} units on that map alone would need **{fc_params(feature_map):,}**.",
              "", parameters_section(analysis), "", receptive_field_section(analysis)]
    return "\n".join(lines)


# --- the lesson ---------------------------------------------------------------------------------------------------
STEPS = """\
1. Click **{load}** to load `d2l_nin` (d2l's NiN for Fashion-MNIST: 1x224x224 input, 10 classes), then
   open the **{explore}** tab.
2. Look at the block diagram: three NiN blocks — a kxk conv followed by two 1x1 convs — with max-pools
   between them, then a classifier block with one channel per class and a global average pool. No FC layer.
3. Switch the **{chart}** to *{parameters}*: compare each block's 1x1 convs with its kxk conv, and the tiny head.
4. In the **{layers}** table, find `head.avgpool`: it turns one map per class into one score per class.
5. Edit the **{nin_table}** table: set block 3's `mlp_channels` to `192, 192`, or change the head kernel,
   then come back — the answers follow your edit. *{why}* has the per-block table.
"""

STEPS_ZH = """\
1. 点击**{load}**载入 `d2l_nin`（d2l 中用于 Fashion-MNIST 的 NiN：输入 1x224x224，10 个类别），然后打开
   **{explore}**页。
2. 看结构图：三个 NiN 块——一个 kxk 卷积层后接两个 1x1 卷积层——块之间是最大池化层，最后是一个每个类别一个通道的
   分类块和全局平均池化。没有全连接层。
3. 把**{chart}**切换到*{parameters}*：比较每块的 1x1 卷积层与它的 kxk 卷积层，以及小小的输出部分。
4. 在**{layers}**表中找到 `head.avgpool`：它把每个类别的一张特征图变成每个类别的一个分数。
5. 编辑 **{nin_table}** 表：把第 3 块的 `mlp_channels` 设为 `192, 192`，或者改变输出部分的卷积核，然后回到这里
   ——答案会随你的修改而变。*{why}*里有每个块的对照表。
"""


def _convs(analysis: Analysis) -> tuple[list[LayerAnalysis], list[LayerAnalysis]]:
    """(1x1 convs, kxk convs) of the whole network, classifier block included."""
    convs = [layer for layer in analysis.layers if layer.kind == "conv"]
    return ([layer for layer in convs if (layer.kernel_size or 1) == 1],
            [layer for layer in convs if (layer.kernel_size or 1) > 1])


def describe(spec: NiNSpec, analysis: Analysis, *, zh: bool = False) -> str:
    one_by_one, larger = _convs(analysis)
    blocks = blocks_of_kind(analysis, "conv_block")
    if zh:
        return (f"一个 NiN，有 {len(blocks)} 个 NiN 块和一个分类块：{len(larger)} 个卷积核较大的卷积层和 "
                f"{len(one_by_one)} 个 1x1 卷积层，没有全连接层。{network_line(spec, analysis, zh=True)}"
                f"特征部分最后输出 {shape_text(last_feature_shape(analysis))} 的特征图。")
    return (f"A NiN with {plural(len(blocks), 'NiN block')} and a classifier block: "
            f"{plural(len(larger), 'conv')} with a larger kernel and {plural(len(one_by_one), '1x1 conv')}, "
            f"no fully connected layer. {network_line(spec, analysis)} "
            f"The features end as a {shape_text(last_feature_shape(analysis))} map.")


def ask(spec: NiNSpec, analysis: Analysis, *, zh: bool = False) -> list[Question]:
    questions = []
    one_by_one, larger = _convs(analysis)
    params_1, params_k = sum(layer.params for layer in one_by_one), sum(layer.params for layer in larger)
    macs_1, macs_k = sum(layer.macs for layer in one_by_one), sum(layer.macs for layer in larger)
    if zh:
        questions.append(Question(
            prompt="在整个网络中（包括分类块），1x1 卷积层有多少个参数？卷积核较大（kxk）的卷积层又有多少个？",
            answer=f"{len(one_by_one)} 个 1x1 卷积层共 {params_1:,} 个，{len(larger)} 个 kxk 卷积层共 {params_k:,} 个",
            explanation=("从 C_in 到 C_out 通道的 1x1 卷积层有 C_in·C_out + C_out 个参数，kxk 卷积层有 "
                         f"k²·C_in·C_out + C_out 个。1x1 卷积层占参数的 {percent(params_1, analysis.total_params)}，"
                         f"乘加运算的 {percent(macs_1, analysis.total_macs)}（{human_count(macs_1)}，kxk 卷积层为 "
                         f"{human_count(macs_k)}），但每个都多加了一个 ReLU：相当于在每个像素上应用一个小型多层感知机，"
                         "只混合通道，不看相邻像素。")))
    else:
        questions.append(Question(
            prompt=("How many parameters are in the 1x1 convolutions, and how many in the convolutions with a larger "
                    "(kxk) kernel, across the whole network (classifier block included)?"),
            answer=f"{params_1:,} in {len(one_by_one)} 1x1 convs vs {params_k:,} in {len(larger)} kxk convs",
            explanation=("A 1x1 conv from C_in to C_out channels has C_in·C_out + C_out parameters, a kxk conv "
                         "k²·C_in·C_out + C_out. The 1x1 convs hold "
                         f"{percent(params_1, analysis.total_params)} of the parameters and do "
                         f"{percent(macs_1, analysis.total_macs)} of the multiply-adds ({human_count(macs_1)} vs "
                         f"{human_count(macs_k)} for the kxk convs), yet each adds a ReLU: a small MLP applied at "
                         "every pixel, mixing channels without looking at neighbours.")))

    # Q2: the global-average head vs one FC layer on the same map.
    head_params = head_share(analysis).head_params
    head_convs = " + ".join(f"{layer.params:,}" for block in analysis.blocks if block.kind == "head"
                            for layer in convs_of(analysis, block))
    feature_map = last_feature_shape(analysis)
    inputs = math.prod(feature_map)
    fc = fc_params(feature_map)
    if zh:
        questions.append(Question(
            prompt=(f"特征部分最后输出 {shape_text(feature_map)} 的特征图。NiN 的输出部分（分类块和全局平均池化）有多少个"
                    f"参数？在同一张特征图上接一个 {FC_WIDTH:,} 个单元的全连接层又需要多少个？"),
            answer=f"{head_params:,} 对 {fc:,}",
            explanation=(f"输出部分的卷积层有 {head_convs} = {head_params:,} 个参数；平均池化层没有参数。全连接层读入 "
                         f"{'·'.join(map(str, feature_map))} = {inputs:,} 个值：{inputs:,}·{FC_WIDTH:,} = "
                         f"{inputs * FC_WIDTH:,} 个权重 + {FC_WIDTH:,} 个偏置 = {fc:,}，是整个输出部分的 "
                         f"{fc / max(head_params, 1):,.0f} 倍——而 AlexNet 有三个全连接层。全局平均池化还让网络能接受"
                         "任意尺寸的输入。")))
    else:
        questions.append(Question(
            prompt=(f"The features end as a {shape_text(feature_map)} map. How many parameters does NiN's head "
                    f"(the classifier block and the global average pool) have, and how many would one "
                    f"{FC_WIDTH:,}-unit fully connected layer on that same map have?"),
            answer=f"{head_params:,} vs {fc:,}",
            explanation=(f"The head's convs hold {head_convs} = {head_params:,}; the average pool has none. An FC "
                         f"layer reads {'·'.join(map(str, feature_map))} = {inputs:,} values: {inputs:,}·{FC_WIDTH:,} "
                         f"= {inputs * FC_WIDTH:,} weights + {FC_WIDTH:,} biases = {fc:,}, "
                         f"{fc / max(head_params, 1):,.0f}x the whole head — and AlexNet has three FC "
                         "layers. Global average pooling also lets the network take any input size.")))

    # Q3: against d2l's AlexNet, trained on the same data in d2l.
    other_spec = load_preset(RIVAL)
    other = analyze(other_spec)
    other_fc = sum(layer.params for layer in other.layers if layer.kind == "linear")
    same_setting = (analysis.input_shape, spec.num_classes) == (other.input_shape, other_spec.num_classes)
    caveat = "" if same_setting else pick(zh, (
        f" Careful: this NiN takes a {shape_text(analysis.input_shape)} input and {spec.num_classes} classes, "
        f"`{RIVAL}` a {shape_text(other.input_shape)} input and {other_spec.num_classes} classes, so this "
        "is not like for like."),
        f"注意：这个 NiN 的输入是 {shape_text(analysis.input_shape)}、{spec.num_classes} 个类别，而 `{RIVAL}` 的输入是 "
        f"{shape_text(other.input_shape)}、{other_spec.num_classes} 个类别，所以两者并不完全可比。")
    if zh:
        questions.append(Question(
            prompt=(f"这个 NiN 一共有多少个参数？d2l 的 AlexNet（`{RIVAL}`，输入 {shape_text(other.input_shape)}，"
                    f"{other_spec.num_classes} 个类别）又有多少个？"),
            answer=(f"{analysis.total_params:,} 对 {other.total_params:,}"
                    f"（{times(analysis.total_params, other.total_params, zh=True)}）"),
            explanation=(f"仅 AlexNet 的三个全连接层就有 {other_fc:,} 个参数，占其 {other.total_params:,} 个参数的 "
                         f"{percent(other_fc, other.total_params)}；NiN 用 1x1 卷积层和全局平均池化取代了它们。{caveat}")))
        return questions
    questions.append(Question(
        prompt=("How many parameters does this NiN have in total, and how many does d2l's AlexNet "
                f"(`{RIVAL}`, {shape_text(other.input_shape)} input, {other_spec.num_classes} classes)?"),
        answer=(f"{analysis.total_params:,} vs {other.total_params:,} "
                f"({times(analysis.total_params, other.total_params)})"),
        explanation=(f"AlexNet's three FC layers alone hold {other_fc:,} of its {other.total_params:,} parameters "
                     f"({percent(other_fc, other.total_params)}); NiN replaces them with 1x1 convs and a global "
                     f"average.{caveat}")))
    return questions


LESSONS: tuple[Lesson, ...] = (
    Lesson(id="nin", title="NiN: 1x1 convolutions and global average pooling", preset="d2l_nin", family="nin",
           steps=STEPS, describe=describe, ask=ask, title_zh="NiN：1x1 卷积与全局平均池化", steps_zh=STEPS_ZH),
)
