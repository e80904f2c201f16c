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


def explain(spec: AlexNetSpec, analysis: Analysis) -> str:
    """LRN, overlapping pooling and grouped convolutions, with this network's sizes."""
    size = _conv1(analysis).output_shape[-1]
    overlap, plain = _pool_sizes(size)
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


def describe(spec: AlexNetSpec, analysis: Analysis) -> str:
    options = [f"LRN {'on' if spec.lrn else 'off'}",
               f"{'overlapping 3x3/2' if spec.overlapping_pool else 'plain 2x2/2'} max-pools",
               f"groups = {spec.groups}"]
    return (f"An AlexNet with {'-'.join(map(str, spec.conv_channels))} conv channels and "
            f"{plural(len(spec.hidden_sizes) + 1, 'FC layer')}; {', '.join(options)}. {network_line(spec, analysis)}")


def ask(spec: AlexNetSpec, analysis: Analysis) -> list[Question]:
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


LESSONS: tuple[Lesson, ...] = (
    Lesson(id="alexnet", title="AlexNet: LRN, overlapping pooling and two GPUs", preset="alexnet_original",
           family="alexnet", steps=STEPS, describe=describe, ask=ask),
)
