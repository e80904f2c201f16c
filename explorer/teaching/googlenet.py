"""GoogLeNet: Inception branches, their concatenation, and what the 1x1 reductions save."""
from __future__ import annotations

from ..analysis import Analysis, BlockAnalysis, analyze
from ..presets import load_preset
from ..report import human_count, shape_text
from ..specs import GoogLeNetSpec
from . import Lesson, Question, network_line, parameters_section, pick, receptive_field_section
from .facts import (blocks_of_kind, branch_layers, branch_widths, convs_of, head_share, percent, plain_conv_weights,
                    reductions, times)

#: The VGG that GoogLeNet is compared with in the lesson.
RIVAL = "vgg16"
#: The block the lesson's questions are about.
LESSON_BLOCK = "inception4e"


def _wide_branch(spec: GoogLeNetSpec, *, zh: bool = False) -> str:
    """How to call branch 3: the paper's 5x5 branch, whose conv is 3x3 in torchvision's GoogLeNet."""
    if zh:
        return "5x5 分支" if spec.ch5x5_kernel == 5 else "“5x5”分支（这里它的卷积是 3x3，与 torchvision 相同）"
    return "5x5 branch" if spec.ch5x5_kernel == 5 else "“5x5” branch (its conv is 3x3 here, as in torchvision)"


def _short(block: BlockAnalysis) -> str:
    return block.name.removeprefix("inception")


def _concatenation(block: BlockAnalysis) -> str:
    """'64 + 128 + 32 + 32 = 256' from the block record."""
    widths = branch_widths(block)
    return f"{' + '.join(map(str, widths))} = {block.output_shape[0]}"


def explain(spec: GoogLeNetSpec, analysis: Analysis, *, zh: bool = False) -> str:
    """The concatenated outputs and the 1x1 reductions of every Inception block, with this network's widths."""
    wide = spec.ch5x5_kernel
    inceptions = blocks_of_kind(analysis, "inception")
    if zh:
        return _explain_zh(analysis, wide, inceptions)
    first = inceptions[0]
    lines = ["### Four branches, concatenated",
             f"Each Inception block runs four branches side by side on the same input and concatenates their "
             f"outputs along the channels: {first.name} reads {first.input_shape[0]} channels and outputs "
             f"{_concatenation(first)} (1x1, 3x3, {wide}x{wide} and pool branches). That sum is the next block's "
             "input: nobody types it.",
             "", "### What the 1x1 reductions save",
             f"Each Inception block runs a 1x1 conv before its 3x3 and {wide}x{wide} branches. Without it, "
             "those convs would read all input channels"
             + (" (the wide branch is 3x3 here, as in torchvision; the paper's is 5x5):" if wide == 3 else ":"),
             "", f"| block | in → out | 3x3 branch with / without 1x1 | {wide}x{wide} branch with / without 1x1 "
                 "| saving |", "|---|---|---|---|---|"]
    total_with = total_without = 0
    for block in inceptions:
        found = reductions(analysis, block)
        with_, without = sum(r.with_reduction for r in found), sum(r.without_reduction for r in found)
        total_with, total_without = total_with + with_, total_without + without
        cells = " | ".join(f"{r.with_reduction:,} / {r.without_reduction:,}" for r in found)
        lines.append(f"| {_short(block)} | {block.input_shape[0]} → {block.output_shape[0]} | {cells} | "
                     f"{percent(without - with_, without)} |")
    lines += ["", f"Over the {len(inceptions)} blocks the reductions keep **{total_with:,}** weights in those branches "
                  f"instead of **{total_without:,}** ({percent(total_without - total_with, total_without)} fewer)."]
    plain = sum(plain_conv_weights(block) for block in inceptions)
    inception_params = sum(block.params for block in inceptions)
    lines += ["", "### Against a VGG-style stack of the same depth",
              f"{len(inceptions)} plain 3x3 convs with the same input and output widths would need **{plain:,}** "
              f"weights; the {len(inceptions)} Inception blocks have **{inception_params:,}** parameters "
              f"({percent(inception_params, plain)} of that), and still mix 1x1, 3x3 and {wide}x{wide} views.",
              "", parameters_section(analysis), "Global average pooling replaces VGG's huge FC layers.",
              "", receptive_field_section(analysis)]
    return "\n".join(lines)


def _explain_zh(analysis: Analysis, wide: int, inceptions: tuple[BlockAnalysis, ...]) -> str:
    """:func:`explain` in Simplified Chinese, with the same numbers."""
    first = inceptions[0]
    lines = ["### 四个分支，沿通道拼接",
             f"每个 Inception 块在同一个输入上并排运行四个分支，再把它们的输出沿通道维拼接起来：{first.name} 读入 "
             f"{first.input_shape[0]} 个通道，输出 {_concatenation(first)} 个通道（1x1 分支、3x3 分支、宽分支 {wide}x{wide} 和池化分支）。"
             "这个和就是下一个块的输入通道数：不需要任何人手动填写。",
             "", "### 1x1 压缩节省了什么",
             f"每个 Inception 块在 3x3 分支和宽分支（{wide}x{wide}）之前先做一个 1x1 卷积层。没有它，这些卷积层就要读入全部输入通道"
             + ("（这里宽分支是 3x3，与 torchvision 相同；论文中是 5x5）：" if wide == 3 else "："),
             "", f"| 块 | 输入 → 输出 | 3x3 分支：有 / 无 1x1 | 宽分支 {wide}x{wide}：有 / 无 1x1 | 节省 |",
             "|---|---|---|---|---|"]
    total_with = total_without = 0
    for block in inceptions:
        found = reductions(analysis, block)
        with_, without = sum(r.with_reduction for r in found), sum(r.without_reduction for r in found)
        total_with, total_without = total_with + with_, total_without + without
        cells = " | ".join(f"{r.with_reduction:,} / {r.without_reduction:,}" for r in found)
        lines.append(f"| {_short(block)} | {block.input_shape[0]} → {block.output_shape[0]} | {cells} | "
                     f"{percent(without - with_, without)} |")
    lines += ["", f"在全部 {len(inceptions)} 个块中，这些压缩让对应分支只需 **{total_with:,}** 个权重，而不是 "
                  f"**{total_without:,}** 个（少了 {percent(total_without - total_with, total_without)}）。"]
    plain = sum(plain_conv_weights(block) for block in inceptions)
    inception_params = sum(block.params for block in inceptions)
    lines += ["", "### 与同样深度的 VGG 式卷积堆叠相比",
              f"输入和输出宽度相同的 {len(inceptions)} 个普通 3x3 卷积层需要 **{plain:,}** 个权重；"
              f"这 {len(inceptions)} 个 Inception 块有 **{inception_params:,}** 个参数（是前者的 "
              f"{percent(inception_params, plain)}），而且仍然混合了 1x1、3x3 和宽分支 {wide}x{wide} 的视野。",
              "", parameters_section(analysis, zh=True), "全局平均池化取代了 VGG 那些庞大的全连接层。",
              "", receptive_field_section(analysis, zh=True)]
    return "\n".join(lines)


# --- the lesson ---------------------------------------------------------------------------------------------------
STEPS = """\
1. Click **{load}** to load `googlenet` (torchvision's: batch norm, no auxiliary heads), then open the
   **{explore}** tab.
2. Look at the block diagram: a stem, nine Inception blocks in three stages (3a–3b, 4a–4e, 5a–5b) separated by
   max-pools, then a global average pool and a single FC layer.
3. Read the **{inception_table}** table: each row's *out* is derived (ch1x1 + ch3x3 + ch5x5 + pool_proj)
   and is the next row's *in*.
4. Switch the **{chart}** to *{shape_flow}*: the channels grow from 192 to 1024 while the map goes from 28x28 to
   7x7.
5. Edit row 4e (e.g. `ch3x3red` 160 → 320, or `ch1x1`), or set the **{wide_kernel}** to the paper's 5, then
   come back — the answers follow your edit.
6. To compare with VGG on the page: **{pin}**, load `vgg16` from the **{preset}** list, then open
   **{compare}**.
"""

STEPS_ZH = """\
1. 点击**{load}**载入 `googlenet`（torchvision 版：带批量归一化，没有辅助分类器），然后打开**{explore}**页。
2. 看结构图：一个主干（stem），九个 Inception 块分成三个阶段（3a–3b、4a–4e、5a–5b），阶段之间是最大池化层，
   最后是全局平均池化和一个全连接层。
3. 看 **{inception_table}** 表：每一行的 *out* 是推导出来的（ch1x1 + ch3x3 + ch5x5 + pool_proj），
   并且就是下一行的 *in*。
4. 把**{chart}**切换到*{shape_flow}*：通道数从 192 增长到 1024，而特征图从 28x28 缩小到 7x7。
5. 编辑 4e 这一行（例如把 `ch3x3red` 从 160 改成 320，或者改 `ch1x1`），或者把**{wide_kernel}**设为论文中的 5，
   然后回到这里——答案会随你的修改而变。
6. 想在页面上和 VGG 对比：点击**{pin}**，在**{preset}**列表中载入 `vgg16`，然后打开**{compare}**。
"""


def describe(spec: GoogLeNetSpec, analysis: Analysis, *, zh: bool = False) -> str:
    if zh:
        aux = "它的两个辅助分类器（只在训练时使用）也计入了总数。" if spec.aux_logits else ""
        return (f"一个 GoogLeNet，主干通道为 {'-'.join(map(str, spec.stem_channels))}，有 "
                f"{len(blocks_of_kind(analysis, 'inception'))} 个 Inception 块，每块有一个 1x1 分支、一个 3x3 分支、"
                f"一个{_wide_branch(spec, zh=True)}和一个池化分支{'（每个卷积层之后都有批量归一化）' if spec.batch_norm else ''}。"
                f"{network_line(spec, analysis, zh=True)}{aux}")
    aux = " Its two auxiliary classifiers (training only) are counted in the totals." if spec.aux_logits else ""
    return (f"A GoogLeNet with a {'-'.join(map(str, spec.stem_channels))} stem and "
            f"{len(blocks_of_kind(analysis, 'inception'))} Inception blocks, each with a 1x1 branch, a 3x3 branch, "
            f"a {_wide_branch(spec)} and a pooling branch"
            f"{' (batch norm after each conv)' if spec.batch_norm else ''}. {network_line(spec, analysis)}{aux}")


def depth(analysis: Analysis) -> int:
    """Weight layers along the deepest path: the stem's convs, the deepest branch of each Inception block, the
    head's FC layers (the auxiliary heads are off that path)."""
    stem = sum(len(convs_of(analysis, block)) for block in blocks_of_kind(analysis, "stem"))
    inceptions = sum(max(sum(1 for layer in branch_layers(analysis, branch) if layer.kind == "conv")
                         for branch in block.branches) for block in blocks_of_kind(analysis, "inception"))
    head = sum(1 for block in blocks_of_kind(analysis, "head") for layer in analysis.layers_of(block.name)
               if layer.kind in ("conv", "linear"))
    return stem + inceptions + head


def weight_layers(analysis: Analysis) -> int:
    """Conv and linear layers outside the auxiliary heads (a plain stack's depth)."""
    return sum(1 for block in analysis.blocks if block.kind != "aux" for layer in analysis.layers_of(block.name)
               if layer.kind in ("conv", "linear"))


def ask(spec: GoogLeNetSpec, analysis: Analysis, *, zh: bool = False) -> list[Question]:
    questions = []
    block = analysis.block(LESSON_BLOCK)
    in_channels = block.input_shape[0]
    widths = branch_widths(block)
    labels = ("ch1x1", "ch3x3", "ch5x5", "pool_proj")
    out = block.output_shape[0]
    questions.append(Question(
        prompt=pick(zh, f"Inception 4e reads {in_channels} channels. How many channels does each of its four "
                        "branches output, and how many does the block output?",
                    f"Inception 4e 读入 {in_channels} 个通道。它的四个分支各输出多少个通道？整个块输出多少个？"),
        answer=", ".join(f"{label}: {channels}" for label, channels in zip(labels, widths)) + f" → {out}",
        explanation=pick(
            zh, "The branches run side by side on the same input and are concatenated along the channels, so out = "
                f"ch1x1 + ch3x3 + ch5x5 + pool_proj = {_concatenation(block)}. That is the input of 5a (after the "
                "max-pool), and the *out* of row 4e in the Inception table: nobody types it.",
            "四个分支在同一个输入上并行计算，输出在通道维上拼接，所以 out = ch1x1 + ch3x3 + ch5x5 + pool_proj = "
            f"{_concatenation(block)}。它就是 5a 的输入（经过最大池化之后），也是 Inception 表中 4e 这一行的 *out*："
            "不需要手动填写。")))

    # Q2: what 4e's 1x1 reductions save (weights only, as in the explanation's table).
    three, wide = reductions(analysis, block)
    saved = three.saved + wide.saved
    k2 = wide.kernel * wide.kernel
    two_convs = '3x3' if wide.kernel == 3 else f'3x3 and {wide.kernel}x{wide.kernel}'
    with_text = (f"{in_channels}·{three.reduced} + {three.reduced}·9·{three.out_channels} = {three.with_reduction:,}；"
                 f"{in_channels}·{wide.reduced} + {wide.reduced}·{k2}·{wide.out_channels} = {wide.with_reduction:,}")
    without_text = (f"{in_channels}·9·{three.out_channels} = {three.without_reduction:,}；"
                    f"{in_channels}·{k2}·{wide.out_channels} = {wide.without_reduction:,}")
    share = percent(saved, three.without_reduction + wide.without_reduction)
    if zh:
        questions.append(Question(
            prompt=(f"在 4e 中，1x1 卷积先把 {in_channels} 个输入通道压缩到 {three.reduced} 个（`ch3x3red`，在 3x3 "
                    f"分支的卷积之前）和 {wide.reduced} 个（`ch5x5red`，在{_wide_branch(spec, zh=True)}之前）。与直接在全部 "
                    f"{in_channels} 个通道上运行这两个 {'3x3' if wide.kernel == 3 else f'3x3 和 {wide.kernel}x{wide.kernel}'} "
                    "卷积相比，这些压缩节省了多少个权重？"),
            answer=saved,
            explanation=(f"有压缩时：{with_text}。没有压缩时：{without_text}。节省：{saved:,} 个权重（占这两个分支的 "
                         f"{share}；不计偏置和批量归一化参数）。探索页上的*为什么是这样？*列出了全部九个块。")))
    else:
        questions.append(Question(
            prompt=(f"In 4e, 1x1 convs first reduce the {in_channels} input channels to {three.reduced} "
                    f"(`ch3x3red`, before the 3x3 branch's conv) and {wide.reduced} (`ch5x5red`, before the "
                    f"{_wide_branch(spec)}). How many weights do these reductions save, against running those two "
                    f"{two_convs} convs on all {in_channels} channels?"),
            answer=saved,
            explanation=(f"With them: {in_channels}·{three.reduced} + {three.reduced}·9·{three.out_channels} = "
                         f"{three.with_reduction:,} and {in_channels}·{wide.reduced} + {wide.reduced}·{k2}·"
                         f"{wide.out_channels} = {wide.with_reduction:,}. Without: {in_channels}·9·{three.out_channels}"
                         f" = {three.without_reduction:,} and {in_channels}·{k2}·{wide.out_channels} = "
                         f"{wide.without_reduction:,}. Saved: {saved:,} weights "
                         f"({share} of those branches; "
                         "biases and batch-norm parameters left out). *Why does it look like this?* on the Explore "
                         "tab lists all nine blocks.")))

    # Q3 and Q4: against VGG-16.
    rival_spec = load_preset(RIVAL)
    rival = analyze(rival_spec)
    rival_fc = head_share(rival).head_params
    rival_depth = weight_layers(rival)
    head_fc = head_share(analysis).head_params
    same = analysis.input_shape == rival.input_shape and spec.num_classes == rival_spec.num_classes
    caveat = "" if same else pick(zh, (
        f" Careful: this GoogLeNet takes a {shape_text(analysis.input_shape)} input and {spec.num_classes} "
        f"classes, `{RIVAL}` a {shape_text(rival.input_shape)} input and {rival_spec.num_classes} classes."),
        f"注意：这个 GoogLeNet 的输入是 {shape_text(analysis.input_shape)}、{spec.num_classes} 个类别，而 `{RIVAL}` "
        f"的输入是 {shape_text(rival.input_shape)}、{rival_spec.num_classes} 个类别。")
    inceptions = len(blocks_of_kind(analysis, "inception"))
    if zh:
        questions.append(Question(
            prompt=(f"这个 GoogLeNet 有多少个参数？VGG-16（`{RIVAL}`，{rival_depth} 个带权重的层，输入 "
                    f"{shape_text(rival.input_shape)}，{rival_spec.num_classes} 个类别）又有多少个？"),
            answer=f"{analysis.total_params:,} 对 {rival.total_params:,}（{times(analysis.total_params, rival.total_params, zh=True)}）",
            explanation=(f"沿最深的路径，GoogLeNet 有 {depth(analysis)} 个带权重的层（主干的卷积层、{inceptions} 个 Inception "
                         f"块中每块的一个压缩卷积和一个卷积、全连接层），比 VGG-16 的 {rival_depth} 层还深。VGG-16 的全连接层有 "
                         f"{rival_fc:,} 个参数（占其 {percent(rival_fc, rival.total_params)}）；GoogLeNet 的输出部分在全局"
                         f"平均池化之后只有一个 {head_fc:,} 个参数的全连接层，而 1x1 压缩让 Inception 块保持精简。{caveat}")))
        questions.append(Question(
            prompt=f"这个 GoogLeNet 和 `{RIVAL}` 处理每张图像各需要多少次乘加运算（MACs）？",
            answer=(f"{human_count(analysis.total_macs)} 对 {human_count(rival.total_macs)}"
                    f"（{times(analysis.total_macs, rival.total_macs, zh=True)}）"),
            explanation=(f"{analysis.total_macs:,} 对 {rival.total_macs:,} 次乘加运算（torchvision 称之为 GFLOPS）。"
                         "参数少不一定意味着运算少——卷积层的开销随特征图尺寸增长，56x56 特征图上的一个卷积权重每张图像"
                         "要用 3,136 次——"
                         + ("但这里窄的 1x1 压缩同时减少了两者。" if analysis.total_macs < rival.total_macs
                            else "而这里这个 GoogLeNet 需要的运算更多。")
                         + f"请对比两个网络的 *MACs* 图表。{caveat}")))
        return questions
    questions.append(Question(
        prompt=(f"How many parameters does this GoogLeNet have, and how many does VGG-16 (`{RIVAL}`, "
                f"{rival_depth} weight layers, {shape_text(rival.input_shape)} input, "
                f"{rival_spec.num_classes} classes)?"),
        answer=f"{analysis.total_params:,} vs {rival.total_params:,} "
               f"({times(analysis.total_params, rival.total_params)})",
        explanation=(f"Along its deepest path GoogLeNet has {depth(analysis)} weight layers (the stem's convs, a "
                     f"reduction and a conv in each of the {inceptions} Inception blocks, the FC layer), "
                     f"deeper than VGG-16's {rival_depth}. VGG-16's FC layers hold {rival_fc:,} parameters "
                     f"({percent(rival_fc, rival.total_params)} of it); GoogLeNet's head is one FC layer of "
                     f"{head_fc:,} after a global average pool, and the 1x1 reductions keep the Inception blocks "
                     f"small.{caveat}")))
    questions.append(Question(
        prompt=f"How many multiply-adds (MACs) per image do this GoogLeNet and `{RIVAL}` need?",
        answer=(f"{human_count(analysis.total_macs)} vs {human_count(rival.total_macs)} "
                f"({times(analysis.total_macs, rival.total_macs)})"),
        explanation=(f"{analysis.total_macs:,} vs {rival.total_macs:,} multiply-adds (torchvision calls these "
                     "GFLOPS). Fewer parameters do not always mean fewer MACs — a conv's cost grows with its map "
                     "size, a weight of a conv on a 56x56 map is used 3,136 times per image — "
                     + ("but here the narrow 1x1 reductions cut both." if analysis.total_macs < rival.total_macs
                        else "and here this GoogLeNet needs more.")
                     + f" Compare the *MACs* charts of the two networks.{caveat}")))
    return questions


LESSONS: tuple[Lesson, ...] = (
    Lesson(id="googlenet", title="GoogLeNet: Inception branches and what 1x1 reductions save", preset="googlenet",
           family="googlenet", steps=STEPS, describe=describe, ask=ask,
           title_zh="GoogLeNet：Inception 的分支，以及 1x1 压缩节省了什么", steps_zh=STEPS_ZH),
)
