"""GoogLeNet: Inception branches, their concatenation, and what the 1x1 reductions save."""
from __future__ import annotations

from ..analysis import Analysis, BlockAnalysis, analyze
from ..presets import load_preset
from ..report import human_count, shape_text
from ..specs import GoogLeNetSpec
from . import Lesson, Question, network_line, parameters_section, receptive_field_section
from .facts import (blocks_of_kind, branch_layers, branch_widths, convs_of, head_share, percent, plain_conv_weights,
                    reductions, times)

#: The VGG that GoogLeNet is compared with in the lesson.
RIVAL = "vgg16"
#: The block the lesson's questions are about.
LESSON_BLOCK = "inception4e"


def _wide_branch(spec: GoogLeNetSpec) -> str:
    """How to call branch 3: the paper's 5x5 branch, whose conv is 3x3 in torchvision's GoogLeNet."""
    return "5x5 branch" if spec.ch5x5_kernel == 5 else "“5x5” branch (its conv is 3x3 here, as in torchvision)"


def _short(block: BlockAnalysis) -> str:
    return block.name.removeprefix("inception")


def _concatenation(block: BlockAnalysis) -> str:
    """'64 + 128 + 32 + 32 = 256' from the block record."""
    widths = branch_widths(block)
    return f"{' + '.join(map(str, widths))} = {block.output_shape[0]}"


def explain(spec: GoogLeNetSpec, analysis: Analysis) -> str:
    """The concatenated outputs and the 1x1 reductions of every Inception block, with this network's widths."""
    wide = spec.ch5x5_kernel
    inceptions = blocks_of_kind(analysis, "inception")
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


def describe(spec: GoogLeNetSpec, analysis: Analysis) -> str:
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


def ask(spec: GoogLeNetSpec, analysis: Analysis) -> list[Question]:
    questions = []
    block = analysis.block(LESSON_BLOCK)
    in_channels = block.input_shape[0]
    widths = branch_widths(block)
    labels = ("ch1x1", "ch3x3", "ch5x5", "pool_proj")
    out = block.output_shape[0]
    questions.append(Question(
        prompt=(f"Inception 4e reads {in_channels} channels. How many channels does each of its four branches "
                "output, and how many does the block output?"),
        answer=", ".join(f"{label}: {channels}" for label, channels in zip(labels, widths)) + f" → {out}",
        explanation=("The branches run side by side on the same input and are concatenated along the channels, "
                     f"so out = ch1x1 + ch3x3 + ch5x5 + pool_proj = {_concatenation(block)}. That is the input of "
                     "5a (after the max-pool), and the *out* of row 4e in the Inception table: nobody types it.")))

    # Q2: what 4e's 1x1 reductions save (weights only, as in the explanation's table).
    three, wide = reductions(analysis, block)
    saved = three.saved + wide.saved
    k2 = wide.kernel * wide.kernel
    questions.append(Question(
        prompt=(f"In 4e, 1x1 convs first reduce the {in_channels} input channels to {three.reduced} "
                f"(`ch3x3red`, before the 3x3 branch's conv) and {wide.reduced} (`ch5x5red`, before the "
                f"{_wide_branch(spec)}). How many weights do these reductions save, against running those two "
                f"{'3x3' if wide.kernel == 3 else f'3x3 and {wide.kernel}x{wide.kernel}'} convs on all "
                f"{in_channels} channels?"),
        answer=saved,
        explanation=(f"With them: {in_channels}·{three.reduced} + {three.reduced}·9·{three.out_channels} = "
                     f"{three.with_reduction:,} and {in_channels}·{wide.reduced} + {wide.reduced}·{k2}·"
                     f"{wide.out_channels} = {wide.with_reduction:,}. Without: {in_channels}·9·{three.out_channels}"
                     f" = {three.without_reduction:,} and {in_channels}·{k2}·{wide.out_channels} = "
                     f"{wide.without_reduction:,}. Saved: {saved:,} weights "
                     f"({percent(saved, three.without_reduction + wide.without_reduction)} of those branches; "
                     "biases and batch-norm parameters left out). *Why does it look like this?* on the Explore "
                     "tab lists all nine blocks.")))

    # Q3 and Q4: against VGG-16.
    rival_spec = load_preset(RIVAL)
    rival = analyze(rival_spec)
    rival_fc = head_share(rival).head_params
    rival_depth = weight_layers(rival)
    head_fc = head_share(analysis).head_params
    caveat = "" if analysis.input_shape == rival.input_shape and spec.num_classes == rival_spec.num_classes else (
        f" Careful: this GoogLeNet takes a {shape_text(analysis.input_shape)} input and {spec.num_classes} "
        f"classes, `{RIVAL}` a {shape_text(rival.input_shape)} input and {rival_spec.num_classes} classes.")
    inceptions = len(blocks_of_kind(analysis, "inception"))
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
           family="googlenet", steps=STEPS, describe=describe, ask=ask),
)
