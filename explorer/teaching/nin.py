"""NiN: 1x1 convolutions as per-pixel MLPs, and global average pooling instead of FC layers."""
from __future__ import annotations

import math

from ..analysis import Analysis, LayerAnalysis, analyze
from ..presets import load_preset
from ..report import human_count, shape_text
from ..specs import NiNSpec
from . import (Lesson, Question, network_line, parameters_section, plural, receptive_field_section)
from .facts import (FC_WIDTH, blocks_of_kind, conv_params, convs_of, fc_params, head_share, last_feature_shape,
                    percent, times)

#: The network NiN is compared with in the lesson (trained on the same data in d2l).
RIVAL = "d2l_alexnet"


def explain(spec: NiNSpec, analysis: Analysis) -> str:
    """The cost of the 1x1 convolutions and of the global-average head, with this network's widths."""
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


def _convs(analysis: Analysis) -> tuple[list[LayerAnalysis], list[LayerAnalysis]]:
    """(1x1 convs, kxk convs) of the whole network, classifier block included."""
    convs = [layer for layer in analysis.layers if layer.kind == "conv"]
    return ([layer for layer in convs if (layer.kernel_size or 1) == 1],
            [layer for layer in convs if (layer.kernel_size or 1) > 1])


def describe(spec: NiNSpec, analysis: Analysis) -> str:
    one_by_one, larger = _convs(analysis)
    blocks = blocks_of_kind(analysis, "conv_block")
    return (f"A NiN with {plural(len(blocks), 'NiN block')} and a classifier block: "
            f"{plural(len(larger), 'conv')} with a larger kernel and {plural(len(one_by_one), '1x1 conv')}, "
            f"no fully connected layer. {network_line(spec, analysis)} "
            f"The features end as a {shape_text(last_feature_shape(analysis))} map.")


def ask(spec: NiNSpec, analysis: Analysis) -> list[Question]:
    questions = []
    one_by_one, larger = _convs(analysis)
    params_1, params_k = sum(layer.params for layer in one_by_one), sum(layer.params for layer in larger)
    macs_1, macs_k = sum(layer.macs for layer in one_by_one), sum(layer.macs for layer in larger)
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
    caveat = "" if same_setting else (
        f" Careful: this NiN takes a {shape_text(analysis.input_shape)} input and {spec.num_classes} classes, "
        f"`{RIVAL}` a {shape_text(other.input_shape)} input and {other_spec.num_classes} classes, so this "
        "is not like for like.")
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
           steps=STEPS, describe=describe, ask=ask),
)
