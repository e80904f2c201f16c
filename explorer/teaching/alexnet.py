"""AlexNet: local response normalisation, overlapping pooling, and the two-GPU grouped convolutions."""
from __future__ import annotations

from dataclasses import replace

from ..analysis import Analysis, LayerAnalysis, analyze
from ..report import human_count, shape_text
from ..specs import AlexNetSpec
from ..specs.alexnet import GROUPED_CONVS
from ..specs.budget import conv_output_size
from . import (Lesson, Question, describe_layer_params, network_line, parameters_section, plural,
               receptive_field_section, size_text)
from .facts import (conv_weights, convs_of, grouped_saving, head_share, layer_weights, lrn_formulas,
                    percent)

#: Groups a conv of the paper's two-GPU layout is split in.
TWO_GPUS = 2


def _conv1(analysis: Analysis) -> LayerAnalysis:
    return convs_of(analysis, "conv1")[0]


def _pool_sizes(size: int) -> tuple[int, int]:
    """(overlapping 3x3/2, plain 2x2/2) output sizes for a map of ``size`` pixels per side."""
    return conv_output_size(size, 3, 2), conv_output_size(size, 2, 2)


def _split_convs(analysis: Analysis) -> list[LayerAnalysis]:
    """The convs the paper splits between two GPUs (conv2, conv4, conv5)."""
    return [convs_of(analysis, f"conv{conv}")[0] for conv in GROUPED_CONVS]


def _group_saving(layers: list[LayerAnalysis], groups: int) -> int:
    return sum(grouped_saving(layer.kernel_size or 1, layer.input_shape[0], layer.output_shape[0], groups)
               for layer in layers)


def _full_and_split(layer: LayerAnalysis, groups: int) -> tuple[int, int]:
    """A split conv's parameters as a full conv and split in ``groups`` (its biases, measured, in both)."""
    kernel, c_in, c_out = layer.kernel_size or 1, layer.input_shape[0], layer.output_shape[0]
    bias = layer.params - layer_weights(layer)
    return conv_weights(kernel, c_in, c_out) + bias, conv_weights(kernel, c_in, c_out, groups=groups) + bias


def explain(spec: AlexNetSpec, analysis: Analysis, *, zh: bool = False) -> str:
    """LRN, overlapping pooling and grouped convolutions, with this network's sizes."""
    size = _conv1(analysis).output_shape[-1]
    overlap, plain = _pool_sizes(size)
    if zh:
        return _explain_zh(spec, analysis, size, overlap, plain)
    lines = ["### Local response normalisation",
             lrn_formulas(spec.lrn_size, spec.lrn_alpha, spec.lrn_beta, spec.lrn_k)
             + " Bright channels dampen their neighbours; nothing is learned (0 parameters). "
             + ("It is **on** after conv1 and conv2." if spec.lrn else
                "It is off (torchvision drops it; batch norm replaced it later)."),
             "", "### Overlapping pooling",
             f"After conv1 the map is {size_text(size)}. A 3x3 window with stride 2 (overlapping) gives "
             f"{size_text(overlap)}; a 2x2 window with stride 2 gives {size_text(plain)}. The paper reports "
             "overlapping pooling lowered the top-1 error by 0.4% and made over-fitting slightly harder. "
             + ("This network uses overlapping pools." if spec.overlapping_pool else "This network uses 2x2 pools.")]
    grouped = [layer for layer in analysis.layers if layer.kind == "conv" and layer.groups > 1]
    lines += ["", "### Two GPUs: grouped convolutions"]
    if grouped:
        saved = sum(grouped_saving(layer.kernel_size or 1, layer.input_shape[0], layer.output_shape[0],
                                   layer.groups) for layer in grouped)
        names = ", ".join(layer.block for layer in grouped)
        lines.append(f"{names} are split in {grouped[0].groups} groups: each part only reads the channels on its "
                     f"own GPU. That saves **{saved:,}** weights ({human_count(saved)}) against full convs.")
    else:
        lines.append("The original network split conv2, conv4 and conv5 between two GPUs (groups = 2), each half "
                     "reading only its own channels. Set groups to 2 to see the saving.")
    lines += ["", parameters_section(analysis), "", receptive_field_section(analysis)]
    return "\n".join(lines)


def _explain_zh(spec: AlexNetSpec, analysis: Analysis, size: int, overlap: int, plain: int) -> str:
    """:func:`explain` in Simplified Chinese, with the same numbers."""
    lines = ["### 局部响应归一化（LRN）",
             lrn_formulas(spec.lrn_size, spec.lrn_alpha, spec.lrn_beta, spec.lrn_k, zh=True)
             + "响应强的通道会抑制相邻的通道；这里没有可学习的参数（0 个参数）。"
             + ("它在 conv1 和 conv2 之后**开启**。" if spec.lrn else
                "它现在关闭（torchvision 去掉了它；后来批量归一化取代了它）。"),
             "", "### 重叠池化",
             f"conv1 之后特征图为 {size_text(size)}。步幅为 2 的 3x3 窗口（相互重叠）得到 {size_text(overlap)}；"
             f"步幅为 2 的 2x2 窗口得到 {size_text(plain)}。论文报告重叠池化让 top-1 错误率降低了 0.4%，"
             "并且让模型稍微更难过拟合。"
             + ("这个网络使用重叠池化。" if spec.overlapping_pool else "这个网络使用 2x2 池化。")]
    grouped = [layer for layer in analysis.layers if layer.kind == "conv" and layer.groups > 1]
    lines += ["", "### 两块 GPU：分组卷积"]
    if grouped:
        saved = sum(grouped_saving(layer.kernel_size or 1, layer.input_shape[0], layer.output_shape[0],
                                   layer.groups) for layer in grouped)
        names = "、".join(layer.block for layer in grouped)
        lines.append(f"{names} 被分成 {grouped[0].groups} 组：每一部分只读入自己那块 GPU 上的通道。与完整的卷积层相比，"
                     f"这节省了 **{saved:,}** 个权重（{human_count(saved)}）。")
    else:
        lines.append("原始网络把 conv2、conv4 和 conv5 分到两块 GPU 上（groups = 2），每一半只读入自己的通道。"
                     "把 groups 设为 2 即可看到节省了多少。")
    lines += ["", parameters_section(analysis, zh=True), "", receptive_field_section(analysis, zh=True)]
    return "\n".join(lines)


# --- the lesson ---------------------------------------------------------------------------------------------------
STEPS = """\
1. Click **{load}** to load `alexnet_original` — the 2012 paper's network: 227x227 input,
   96-256-384-384-256 convs, local response normalisation (LRN) after conv1 and conv2, conv2/4/5 split in two
   groups — then open the **{explore}** tab.
2. Look at the block diagram: five convs, three max-pools, three FC layers.
3. In the **{layers}** table, follow conv1: its output, `features.conv1.lrn` (same shape, 0 parameters), then the
   3x3/2 max-pool.
4. Untick **{overlapping}** and watch the sizes; set **{groups}** to 1 and watch conv2's parameters double.
5. Switch the **{chart}** to *{parameters}* with *{log_scale}*: the FC layers dwarf the convs. Come back here after
   each edit — the answers follow it.
"""

STEPS_ZH = """\
1. 点击**{load}**载入 `alexnet_original`——2012 年论文中的网络：输入 227x227，卷积通道为 96-256-384-384-256，
   conv1 和 conv2 之后有局部响应归一化（LRN），conv2/4/5 分成两组——然后打开**{explore}**页。
2. 看结构图：五个卷积层、三个最大池化层、三个全连接层。
3. 在**{layers}**表中跟踪 conv1：它的输出、`features.conv1.lrn`（形状不变，0 个参数），然后是 3x3/2 最大池化。
4. 取消勾选**{overlapping}**，观察尺寸的变化；把**{groups}**设为 1，观察 conv2 的参数量翻倍。
5. 把**{chart}**切换到*{parameters}*并勾选*{log_scale}*：全连接层远远大于卷积层。每次修改后回到这里——答案会随之变化。
"""


def describe(spec: AlexNetSpec, analysis: Analysis, *, zh: bool = False) -> str:
    if zh:
        pool = "重叠的 3x3/2" if spec.overlapping_pool else "普通的 2x2/2"
        return (f"一个 AlexNet，卷积通道为 {'-'.join(map(str, spec.conv_channels))}，有 {len(spec.hidden_sizes) + 1} 个"
                f"全连接层；LRN {'开启' if spec.lrn else '关闭'}，{pool}最大池化，groups = {spec.groups}。"
                f"{network_line(spec, analysis, zh=True)}")
    options = [f"LRN {'on' if spec.lrn else 'off'}",
               f"{'overlapping 3x3/2' if spec.overlapping_pool else 'plain 2x2/2'} max-pools",
               f"groups = {spec.groups}"]
    return (f"An AlexNet with {'-'.join(map(str, spec.conv_channels))} conv channels and "
            f"{plural(len(spec.hidden_sizes) + 1, 'FC layer')}; {', '.join(options)}. {network_line(spec, analysis)}")


def ask(spec: AlexNetSpec, analysis: Analysis, *, zh: bool = False) -> list[Question]:
    if zh:
        return _ask_zh(spec, analysis)
    questions = []
    # Q1: the first max-pool, overlapping vs not.
    conv1 = _conv1(analysis)
    pool1 = next(layer for layer in analysis.layers if layer.kind == "maxpool")
    size = conv1.output_shape[-1]
    overlap, plain = _pool_sizes(size)
    if overlap == plain:
        same = ("The same size either way: overlapping windows do not shrink the map more, they let neighbouring "
                "windows share a row and a column of pixels.")
    else:
        same = (f"Here the overlapping windows give a map {abs(plain - overlap)} pixel"
                f"{'s' if abs(plain - overlap) > 1 else ''} {'smaller' if overlap < plain else 'larger'} per side, "
                "and neighbouring windows share a row and a column of pixels.")
    used = "3x3/2 (overlapping)" if spec.overlapping_pool else "2x2/2"
    questions.append(Question(
        prompt=(f"conv1 outputs a {shape_text(conv1.output_shape)} map. What is its spatial size after the first "
                "max-pool with overlapping 3x3 windows at stride 2, and with plain 2x2 windows at stride 2?"),
        answer=f"{size_text(overlap)} with 3x3/2, {size_text(plain)} with 2x2/2",
        explanation=(f"⌊(size − k)/stride⌋ + 1: ⌊({size} − 3)/2⌋ + 1 = {overlap} and ⌊({size} − 2)/2⌋ + 1 = "
                     f"{plain}. {same} The paper reports that overlapping pooling lowered the top-1 error by 0.4% "
                     f"and made over-fitting slightly harder. This network uses {used}: the Layers table shows "
                     f"{shape_text(pool1.output_shape)} after `{pool1.name}`.")))

    # Q2: the two-GPU groups: k²·C_in·C_out·(1 − 1/g) weights per split conv.
    split = _split_convs(analysis)
    names = ", ".join(layer.block for layer in split)
    groups = spec.groups if spec.groups > 1 else TWO_GPUS
    odd = [layer for layer in split if layer.input_shape[0] % groups or layer.output_shape[0] % groups]
    if odd:
        questions.append(Question(
            prompt=f"How many weights would splitting {names} in two groups (the two-GPU layout) save?",
            answer="none: these widths cannot be split in two",
            explanation=(f"{odd[0].block} reads {odd[0].input_shape[0]} and writes {odd[0].output_shape[0]} "
                         "channels: a grouped conv needs both divisible by the groups. Use even channel counts, "
                         "as the paper's 96-256-384-384-256.")))
    else:
        saved = _group_saving(split, groups)
        ungrouped_total = analysis.total_params + (saved if spec.groups > 1 else 0)
        per_conv = "; ".join(f"{layer.block}: {full:,} → {halves:,}" for layer in split
                             for full, halves in [_full_and_split(layer, groups)])
        prompt = (f"{names} are split in two groups (the paper's two-GPU layout). How many weights does that save "
                  "against full convolutions?" if spec.groups > 1 else
                  f"This network has groups = 1. How many weights would splitting {names} in two groups (the "
                  "paper's two-GPU layout) save?")
        questions.append(Question(
            prompt=prompt, answer=saved,
            explanation=(f"A grouped conv's halves each read only half of the input channels, so it has half the "
                         f"weights (the biases stay): k²·C_in·C_out·(1 − 1/{groups}) fewer. Parameters without → "
                         f"with groups: {per_conv}. Saved: {saved:,} ({human_count(saved)}), "
                         f"{percent(saved, ungrouped_total)} of the ungrouped network.")))

    # Q3: LRN has no parameters (measured: with LRN switched on when it is off).
    with_lrn = analysis if spec.lrn else analyze(replace(spec, lrn=True))
    lrn_layers = [layer for layer in with_lrn.layers if layer.kind == "lrn"]
    lrn_params = sum(layer.params for layer in lrn_layers)
    where = " and ".join(layer.block for layer in lrn_layers)
    questions.append(Question(
        prompt=(f"How many parameters do the {len(lrn_layers)} local response normalisation layers (after {where}) "
                "have?" if spec.lrn else
                f"LRN is off in this network. How many parameters would the {len(lrn_layers)} LRN layers (after "
                f"{where}) add?"),
        answer=lrn_params,
        explanation=(lrn_formulas(spec.lrn_size, spec.lrn_alpha, spec.lrn_beta, spec.lrn_k)
                     + " The constants are fixed: nothing is learned. Batch normalisation, which replaced it, "
                     "learns two parameters per channel.")))

    # Q4: the FC layers' share.
    fc = [layer for layer in analysis.layers if layer.kind == "linear"]
    fc_params = sum(layer.params for layer in fc)
    share = head_share(analysis)
    questions.append(Question(
        prompt="What share of the parameters is in the fully connected layers?",
        answer=f"{percent(fc_params, analysis.total_params)} ({fc_params:,} of {analysis.total_params:,})",
        explanation=("The FC layers hold " + " + ".join(f"{layer.params:,}" for layer in fc)
                     + f" = {fc_params:,}. {describe_layer_params(analysis, fc[0])} The five convs, which do "
                     f"{percent(share.feature_macs, share.total_macs)} of the multiply-adds, hold the rest.")))
    return questions


def _ask_zh(spec: AlexNetSpec, analysis: Analysis) -> list[Question]:
    """:func:`ask` in Simplified Chinese (the same questions and numbers)."""
    questions = []
    conv1 = _conv1(analysis)
    pool1 = next(layer for layer in analysis.layers if layer.kind == "maxpool")
    size = conv1.output_shape[-1]
    overlap, plain = _pool_sizes(size)
    if overlap == plain:
        same = "两种方式尺寸相同：重叠窗口并不会让特征图缩得更小，而是让相邻窗口共享一行和一列像素。"
    else:
        same = (f"这里重叠窗口得到的特征图每边{'小' if overlap < plain else '大'} {abs(plain - overlap)} 个像素，"
                "并且相邻窗口共享一行和一列像素。")
    used = "3x3/2（重叠）" if spec.overlapping_pool else "2x2/2"
    questions.append(Question(
        prompt=(f"conv1 输出 {shape_text(conv1.output_shape)} 的特征图。经过第一个最大池化层后，若用步幅为 2 的重叠 3x3 "
                "窗口，空间尺寸是多少？若用步幅为 2 的普通 2x2 窗口呢？"),
        answer=f"3x3/2 得 {size_text(overlap)}，2x2/2 得 {size_text(plain)}",
        explanation=(f"⌊(size − k)/stride⌋ + 1：⌊({size} − 3)/2⌋ + 1 = {overlap}，⌊({size} − 2)/2⌋ + 1 = {plain}。"
                     f"{same}论文报告重叠池化让 top-1 错误率降低了 0.4%，并让过拟合稍难发生。这个网络使用 {used}："
                     f"各层表显示 `{pool1.name}` 之后为 {shape_text(pool1.output_shape)}。")))

    split = _split_convs(analysis)
    names = ", ".join(layer.block for layer in split)
    groups = spec.groups if spec.groups > 1 else TWO_GPUS
    odd = [layer for layer in split if layer.input_shape[0] % groups or layer.output_shape[0] % groups]
    if odd:
        questions.append(Question(
            prompt=f"把 {names} 分成两组（双 GPU 布局）能节省多少个权重？",
            answer="一个也不能：这些宽度无法分成两半",
            explanation=(f"{odd[0].block} 读入 {odd[0].input_shape[0]} 个通道、输出 {odd[0].output_shape[0]} 个通道："
                         "分组卷积要求两者都能被组数整除。请使用偶数通道数，例如论文中的 96-256-384-384-256。")))
    else:
        saved = _group_saving(split, groups)
        ungrouped_total = analysis.total_params + (saved if spec.groups > 1 else 0)
        per_conv = "；".join(f"{layer.block}：{full:,} → {halves:,}" for layer in split
                            for full, halves in [_full_and_split(layer, groups)])
        prompt = (f"{names} 被分成两组（论文中的双 GPU 布局）。与完整的卷积相比，这节省了多少个权重？"
                  if spec.groups > 1 else
                  f"这个网络的 groups = 1。把 {names} 分成两组（论文中的双 GPU 布局）能节省多少个权重？")
        questions.append(Question(
            prompt=prompt, answer=saved,
            explanation=(f"分组卷积的每一半只读取一半的输入通道，所以权重减半（偏置不变）：少了 "
                         f"k²·C_in·C_out·(1 − 1/{groups}) 个。不分组 → 分组时的参数量：{per_conv}。节省：{saved:,}"
                         f"（{human_count(saved)}），占不分组网络的 {percent(saved, ungrouped_total)}。")))

    with_lrn = analysis if spec.lrn else analyze(replace(spec, lrn=True))
    lrn_layers = [layer for layer in with_lrn.layers if layer.kind == "lrn"]
    lrn_params = sum(layer.params for layer in lrn_layers)
    where = " 和 ".join(layer.block for layer in lrn_layers)
    questions.append(Question(
        prompt=(f"{len(lrn_layers)} 个局部响应归一化层（在 {where} 之后）有多少个参数？" if spec.lrn else
                f"这个网络关闭了 LRN。{len(lrn_layers)} 个 LRN 层（在 {where} 之后）会增加多少个参数？"),
        answer=lrn_params,
        explanation=(lrn_formulas(spec.lrn_size, spec.lrn_alpha, spec.lrn_beta, spec.lrn_k, zh=True)
                     + "这些常数是固定的：没有任何需要学习的参数。取代它的批量归一化则为每个通道学习两个参数。")))

    fc = [layer for layer in analysis.layers if layer.kind == "linear"]
    fc_params = sum(layer.params for layer in fc)
    share = head_share(analysis)
    questions.append(Question(
        prompt="全连接层的参数占全部参数的多少？",
        answer=f"{percent(fc_params, analysis.total_params)}（{analysis.total_params:,} 个中的 {fc_params:,} 个）",
        explanation=("全连接层有 " + " + ".join(f"{layer.params:,}" for layer in fc)
                     + f" = {fc_params:,} 个参数。{describe_layer_params(analysis, fc[0], zh=True)}五个卷积层完成了 "
                     f"{percent(share.feature_macs, share.total_macs)} 的乘加运算，却只占其余的参数。")))
    return questions


LESSONS: tuple[Lesson, ...] = (
    Lesson(id="alexnet", title="AlexNet: LRN, overlapping pooling and two GPUs", preset="alexnet_original",
           family="alexnet", steps=STEPS, describe=describe, ask=ask,
           title_zh="AlexNet：LRN、重叠池化和两块 GPU", steps_zh=STEPS_ZH),
)
