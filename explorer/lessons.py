"""Lessons for teachers: a walkthrough of the page and questions answered with the loaded network's numbers.

Each lesson names the preset it was written for, but every number in its text and answers is computed from
the spec and analysis it is given, so the questions stay right while a student edits the network. Pure: no
Gradio (the Lessons panel in ``explorer.ui.lessons_panel`` shows them).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable

from .analysis import Analysis, LayerAnalysis, analyze
from .presets import load_preset
from .report import human_count, shape_text
from .specs import SPEC_CLASSES, AlexNetSpec, GoogLeNetSpec, NiNSpec, Spec, SpecError, VGGSpec
from .specs.alexnet import GROUPED_CONVS
from .specs.budget import conv_output_size
from .specs.googlenet import INCEPTION_NAMES

FAMILY_LABELS = {family: cls.family_label for family, cls in SPEC_CLASSES.items()}
#: The width of the FC layer NiN's head is compared with (AlexNet's and VGG's first FC layer).
FC_WIDTH = 4096


@dataclass(frozen=True)
class Question:
    """One question; the answer is computed from the network the lesson is rendered for."""

    prompt: str  # Markdown
    answer: str | int | float  # an int for a single count; a short text when it holds several figures
    explanation: str  # Markdown: how the answer follows from the numbers


@dataclass(frozen=True)
class Lesson:
    """A lesson: which preset to load, what to look at, and questions computed from the loaded network."""

    id: str
    title: str
    preset: str  # what "Load this network" loads
    family: str  # the family the questions are about ("vgg", "googlenet", "nin", "alexnet")
    walkthrough: str  # Markdown: numbered steps on the page
    # (spec, analysis) -> Markdown paragraph about the loaded network, with its numbers.
    describe: Callable[[Spec, Analysis], str] = field(repr=False, compare=False)
    # (spec, analysis) -> the questions with computed answers.
    ask: Callable[[Spec, Analysis], list[Question]] = field(repr=False, compare=False)

    def applies_to(self, spec: Spec) -> bool:
        return spec.family == self.family

    def wrong_family_message(self, spec: Spec) -> str:
        label = FAMILY_LABELS[self.family]
        return (f"This lesson is about **{label}**, but the network on the Explore tab is a "
                f"**{spec.family_label}**. Click **Load this network** to load `{self.preset}` (or pick any "
                f"{label} preset on the Explore tab); the questions then use its numbers.")

    def questions(self, spec: Spec, analysis: Analysis) -> list[Question]:
        """The questions with answers computed from ``spec`` and ``analysis``; empty for another family."""
        _check_pair(spec, analysis)
        return list(self.ask(spec, analysis)) if self.applies_to(spec) else []

    def render(self, spec: Spec, analysis: Analysis, *, questions: list[Question] | None = None) -> str:
        """Markdown about the loaded network (its live numbers) and the questions, without their answers.

        Pass ``questions`` when they are already computed, to compute them once.
        """
        _check_pair(spec, analysis)
        if not self.applies_to(spec):
            return self.wrong_family_message(spec)
        asked = self.questions(spec, analysis) if questions is None else questions
        return "\n".join(["#### The network on the Explore tab", self.describe(spec, analysis), "",
                          "#### Questions", questions_markdown(asked)])


def questions_markdown(questions: list[Question]) -> str:
    """The prompts as a numbered list."""
    return "\n".join(f"{index}. {question.prompt}" for index, question in enumerate(questions, 1))


def answers_markdown(questions: list[Question]) -> str:
    """Each answer in bold, then how it follows from the numbers."""
    if not questions:
        return "No answers: load the lesson's network first."
    lines = ["#### Answers"]
    for index, question in enumerate(questions, 1):
        lines += [f"{index}. **{format_answer(question.answer)}**", "", f"   {question.explanation}", ""]
    return "\n".join(lines)


def format_answer(answer: str | int | float) -> str:
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return str(answer)
    return f"{answer:,}" if isinstance(answer, int) else f"{answer:,.4g}"


def _check_pair(spec: Spec, analysis: Analysis) -> None:
    if spec.family != analysis.family:
        raise ValueError(f"the analysis is of a {analysis.family} network but the spec is a {spec.family} one")


# --- small helpers over the analysis record ---------------------------------------------------------------------
def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def _times(small: float, large: float) -> str:
    """'20.9x fewer', '1.3x more' or 'the same': ``small`` compared with ``large``."""
    if not small or not large:
        return "n/a"
    if small == large:
        return "the same"
    return f"{large / small:.1f}x fewer" if small < large else f"{small / large:.1f}x more"


def _input_of(analysis: Analysis, layer: LayerAnalysis) -> tuple[int, ...]:
    """The shape a layer reads: the output of the layer executed before it (or the network's input)."""
    index = analysis.layers.index(layer)
    return analysis.layers[index - 1].output_shape if index else analysis.input_shape


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _size_text(size: int) -> str:
    return f"{size}x{size}"


def _network_line(spec: Spec, analysis: Analysis) -> str:
    return (f"It takes a {shape_text(analysis.input_shape)} input and predicts {spec.num_classes} classes: "
            f"**{analysis.total_params:,}** parameters and **{human_count(analysis.total_macs)}** "
            f"multiply-adds (MACs) per image.")


def _flattened_map(analysis: Analysis, layer: LayerAnalysis) -> tuple[int, ...] | None:
    """The map a linear layer reads, when a Flatten (maybe followed by dropout) comes right before it."""
    index = analysis.layers.index(layer) - 1
    while index >= 0 and analysis.layers[index].kind in ("dropout", "relu"):
        index -= 1
    if index >= 1 and analysis.layers[index].kind == "flatten":
        return analysis.layers[index - 1].output_shape
    return None


def _describe_layer_params(analysis: Analysis, layer: LayerAnalysis) -> str:
    """'`name` reads ... : a·b weights + b biases = n.' for a linear or conv layer."""
    reads = _input_of(analysis, layer)
    if layer.kind == "linear":
        inputs = math.prod(reads)
        out = layer.output_shape[0]
        flat = _flattened_map(analysis, layer)
        source = f" (the {shape_text(flat)} map, flattened)" if flat and len(flat) > 1 else ""
        return (f"`{layer.name}` reads {inputs:,} values{source} and has {out:,} outputs: {inputs:,}·{out:,} "
                f"weights + {out:,} biases = {layer.params:,}.")
    if layer.kind == "conv":
        kernel = layer.kernel_size or 1
        return (f"`{layer.name}` is a {kernel}x{kernel} conv from {reads[0]:,} to {layer.output_shape[0]:,} "
                f"channels: {layer.params:,} parameters.")
    return f"`{layer.name}` has {layer.params:,} parameters."


# --- lesson 1: VGG ------------------------------------------------------------------------------------------------
VGG_WALKTHROUGH = """\
1. Click **Load this network** to load `vgg16` into the Explore tab, then open the **Explore** tab.
2. Look at the **Block diagram**: five blocks of 3x3 convolutions, each closed by a 2x2 max-pool that halves the
   height and width, while the channels double from 64 to 512.
3. Switch the **Chart** to *Shape flow*: the map shrinks from 224x224 to 7x7 while the channels grow.
4. Switch it to *Parameters* and tick *Log scale*: find the one layer that dwarfs all the others.
5. In the **Layers** table, read the **RF** column (receptive field): how far one output can see grows with each
   conv and each pool.
6. Edit `conv_arch`: give block 4 a different width or depth, e.g. `(2, 256)`, then come back here — the
   questions and answers follow your edit. The accordion *Why does it look like this?* has the 3x3 table for
   every block.
"""


def _vgg_describe(spec: VGGSpec, analysis: Analysis) -> str:
    pools = [layer for layer in analysis.layers if layer.kind == "maxpool" and layer.block.startswith("block")]
    sizes = " → ".join([str(spec.input_size), *(str(layer.output_shape[-1]) for layer in pools)])
    blocks = ", ".join(f"{num_convs}×{channels}" for (num_convs, _), channels in zip(spec.conv_arch,
                                                                                    spec.block_channels))
    fc_layers = _plural(len(spec.hidden_sizes) + 1, "fully connected layer")
    return (f"A VGG with {_plural(len(spec.conv_arch), 'block')} ({blocks}: number of 3x3 convs × channels), "
            f"{_plural(spec.num_conv_layers, 'conv layer')} and {fc_layers}"
            f"{' (as convolutions)' if spec.fc_as_conv else ''}. {_network_line(spec, analysis)} "
            f"The max-pools take the map through {sizes} pixels per side.")


def _vgg_stack_block(spec: VGGSpec) -> int:
    """The block the 3x3 question is about (0-based): block 4 when it stacks convs, else the deepest stack."""
    if len(spec.conv_arch) >= 4 and spec.conv_arch[3][0] >= 2:
        return 3
    deepest = max(num_convs for num_convs, _ in spec.conv_arch)
    return max(index for index, (num_convs, _) in enumerate(spec.conv_arch) if num_convs == deepest)


def _vgg_questions(spec: VGGSpec, analysis: Analysis) -> list[Question]:
    questions = []
    # Q1: n stacked 3x3 convs vs one (2n+1)x(2n+1) conv, C channels in and out.
    index = _vgg_stack_block(spec)
    num_convs, channels = spec.conv_arch[index][0], spec.block_channels[index]
    window = 2 * num_convs + 1
    stacked = num_convs * (9 * channels * channels + channels)
    single = window * window * channels * channels + channels
    block = f"block{index + 1}"
    convs = [layer for layer in analysis.layers if layer.block == block and layer.kind == "conv"]
    actual = sum(layer.params for layer in convs)
    first_in = _input_of(analysis, convs[0])[0] if convs else channels
    if num_convs == 1:
        stack_text = f"Block {index + 1} has a single 3x3 conv of {channels} channels (it sees 3x3 pixels)."
        saving = ("No block of this network stacks 3x3 convs, so there is nothing to save: edit `conv_arch` to "
                  "`(3, 512)` for a block and ask again.")
    else:
        stack_text = (f"Block {index + 1} stacks {num_convs} 3x3 convs of {channels} channels; together they see "
                      f"a {_size_text(window)} window.")
        saving = (f"The stack has {_pct(single - stacked, single)} fewer parameters and {num_convs} ReLUs "
                  "instead of one.")
    if first_in == channels:
        real = (f"In this network the block reads {first_in} channels, so its convs hold exactly "
                f"{actual:,} parameters (the Layers table).")
    else:
        real = (f"In this network the block's first conv reads {first_in} channels from the block before, so "
                f"the block's convs really hold {actual:,} parameters (the Layers table).")
    questions.append(Question(
        prompt=(f"{stack_text} With {channels} channels in and out, how many parameters (weights + biases) does "
                f"the stack have, and how many would one {_size_text(window)} conv of the same width have?"),
        answer=f"{stacked:,} vs {single:,}",
        explanation=(f"n·(9·C² + C) = {num_convs}·(9·{channels}² + {channels}) = {stacked:,}; "
                     f"(2n+1)²·C² + C = {window * window}·{channels}² + {channels} = {single:,}. {saving} {real}")))

    # Q2: the largest layer.
    biggest = max(analysis.layers, key=lambda layer: layer.params)
    questions.append(Question(
        prompt="Which layer holds the most parameters, and how many?",
        answer=f"{biggest.name} ({biggest.params:,} parameters)",
        explanation=(f"{_describe_layer_params(analysis, biggest)} That is "
                     f"{_pct(biggest.params, analysis.total_params)} of all {analysis.total_params:,} parameters."
                     + (" A conv reuses its small kernel at every position; a fully connected layer has one "
                        "weight per input value and output." if biggest.kind == "linear" else ""))))

    # Q3: receptive field of the last block's pool ("pool5" in VGG-16).
    pools = [layer for layer in analysis.layers if layer.kind == "maxpool" and layer.block.startswith("block")]
    last = pools[-1]
    steps = ", ".join(f"{layer.block}: {layer.receptive_field}" for layer in pools)
    beyond = (f" That is more than the {spec.input_size}-pixel input: the outer part of the window is padding."
              if last.receptive_field > spec.input_size else "")
    questions.append(Question(
        prompt=(f"What is the receptive field of the last max-pool (`{last.name}`, pool{len(pools)}): how many "
                "input pixels per side can one of its outputs see?"),
        answer=last.receptive_field,
        explanation=("Each 3x3 conv adds 2·jump pixels and each 2x2/2 max-pool adds 1·jump, then doubles the "
                     "jump (the input pixels between neighbouring outputs, 1 at the input). After each block: "
                     f"{steps}.{beyond} The RF column of the Layers table shows every step.")))
    return questions


# --- lesson 2: NiN ------------------------------------------------------------------------------------------------
NIN_WALKTHROUGH = """\
1. Click **Load this network** to load `d2l_nin` (d2l's NiN for Fashion-MNIST: 1x224x224 input, 10 classes), then
   open the **Explore** tab.
2. Look at the **Block diagram**: three NiN blocks — a kxk conv followed by two 1x1 convs — with max-pools
   between them, then a classifier block with one channel per class and a global average pool. No FC layer.
3. Switch the **Chart** to *Parameters*: compare each block's 1x1 convs with its kxk conv, and the tiny head.
4. In the **Layers** table, find `head.avgpool`: it turns one map per class into one score per class.
5. Edit the **NiN blocks** table: set block 3's `mlp_channels` to `192, 192`, or change the head kernel, then
   come back — the answers follow your edit. *Why does it look like this?* has the per-block table.
"""


def _nin_convs(analysis: Analysis) -> tuple[list[LayerAnalysis], list[LayerAnalysis]]:
    convs = [layer for layer in analysis.layers if layer.kind == "conv"]
    return ([layer for layer in convs if (layer.kernel_size or 1) == 1],
            [layer for layer in convs if (layer.kernel_size or 1) > 1])


def _nin_feature_map(analysis: Analysis) -> tuple[int, ...]:
    features = [layer for layer in analysis.layers if layer.block != "head"]
    return features[-1].output_shape if features else analysis.input_shape


def _nin_describe(spec: NiNSpec, analysis: Analysis) -> str:
    one_by_one, larger = _nin_convs(analysis)
    return (f"A NiN with {_plural(len(spec.blocks), 'NiN block')} and a classifier block: "
            f"{_plural(len(larger), 'conv')} with a larger kernel and {_plural(len(one_by_one), '1x1 conv')}, "
            f"no fully connected layer. {_network_line(spec, analysis)} "
            f"The features end as a {shape_text(_nin_feature_map(analysis))} map.")


def _nin_questions(spec: NiNSpec, analysis: Analysis) -> list[Question]:
    questions = []
    one_by_one, larger = _nin_convs(analysis)
    params_1, params_k = sum(layer.params for layer in one_by_one), sum(layer.params for layer in larger)
    macs_1, macs_k = sum(layer.macs for layer in one_by_one), sum(layer.macs for layer in larger)
    questions.append(Question(
        prompt=("How many parameters are in the 1x1 convolutions, and how many in the convolutions with a larger "
                "(kxk) kernel, across the whole network (classifier block included)?"),
        answer=f"{params_1:,} in {len(one_by_one)} 1x1 convs vs {params_k:,} in {len(larger)} kxk convs",
        explanation=("A 1x1 conv from C_in to C_out channels has C_in·C_out + C_out parameters, a kxk conv "
                     "k²·C_in·C_out + C_out. The 1x1 convs hold "
                     f"{_pct(params_1, analysis.total_params)} of the parameters and do "
                     f"{_pct(macs_1, analysis.total_macs)} of the multiply-adds ({human_count(macs_1)} vs "
                     f"{human_count(macs_k)} for the kxk convs), yet each adds a ReLU: a small MLP applied at "
                     "every pixel, mixing channels without looking at neighbours.")))

    # Q2: the global-average head vs one FC layer on the same map.
    head = [layer for layer in analysis.layers if layer.block == "head"]
    head_params = sum(layer.params for layer in head)
    feature_map = _nin_feature_map(analysis)
    inputs = math.prod(feature_map)
    fc_weights = inputs * FC_WIDTH
    fc_params = fc_weights + FC_WIDTH
    head_convs = " + ".join(f"{layer.params:,}" for layer in head if layer.kind == "conv")
    questions.append(Question(
        prompt=(f"The features end as a {shape_text(feature_map)} map. How many parameters does NiN's head "
                f"(the classifier block and the global average pool) have, and how many would one "
                f"{FC_WIDTH:,}-unit fully connected layer on that same map have?"),
        answer=f"{head_params:,} vs {fc_params:,}",
        explanation=(f"The head's convs hold {head_convs} = {head_params:,}; the average pool has none. An FC "
                     f"layer reads {'·'.join(map(str, feature_map))} = {inputs:,} values: {inputs:,}·{FC_WIDTH:,} "
                     f"= {fc_weights:,} weights + {FC_WIDTH:,} biases = {fc_params:,}, "
                     f"{fc_params / max(head_params, 1):,.0f}x the whole head — and AlexNet has three FC "
                     "layers. Global average pooling also lets the network take any input size.")))

    # Q3: against d2l's AlexNet, trained on the same data in d2l.
    other_spec = load_preset("d2l_alexnet")
    other = analyze(other_spec)
    other_fc = sum(layer.params for layer in other.layers if layer.kind == "linear")
    same_setting = (spec.in_channels, spec.input_size, spec.num_classes) == (
        other_spec.in_channels, other_spec.input_size, other_spec.num_classes)
    caveat = "" if same_setting else (
        f" Careful: this NiN takes a {shape_text(analysis.input_shape)} input and {spec.num_classes} classes, "
        f"`d2l_alexnet` a {shape_text(other.input_shape)} input and {other_spec.num_classes} classes, so this "
        "is not like for like.")
    questions.append(Question(
        prompt=("How many parameters does this NiN have in total, and how many does d2l's AlexNet "
                f"(`d2l_alexnet`, {shape_text(other.input_shape)} input, {other_spec.num_classes} classes)?"),
        answer=(f"{analysis.total_params:,} vs {other.total_params:,} "
                f"({_times(analysis.total_params, other.total_params)})"),
        explanation=(f"AlexNet's three FC layers alone hold {other_fc:,} of its {other.total_params:,} parameters "
                     f"({_pct(other_fc, other.total_params)}); NiN replaces them with 1x1 convs and a global "
                     f"average.{caveat}")))
    return questions


# --- lesson 3: GoogLeNet ------------------------------------------------------------------------------------------
GOOGLENET_WALKTHROUGH = """\
1. Click **Load this network** to load `googlenet` (torchvision's: batch norm, no auxiliary heads), then open the
   **Explore** tab.
2. Look at the **Block diagram**: a stem, nine Inception blocks in three stages (3a–3b, 4a–4e, 5a–5b) separated by
   max-pools, then a global average pool and a single FC layer.
3. Read the **Inception blocks** table: each row's *out* is derived (ch1x1 + ch3x3 + ch5x5 + pool_proj) and is
   the next row's *in*.
4. Switch the **Chart** to *Shape flow*: the channels grow from 192 to 1024 while the map goes from 28x28 to 7x7.
5. Edit row 4e (e.g. `ch3x3red` 160 → 320, or `ch1x1`), or set the wide branch to the paper's 5x5, then come
   back — the answers follow your edit.
6. To compare with VGG on the page: **Pin as A**, load `vgg16` from the preset list, then open **Compare**.
"""
#: The VGG that GoogLeNet is compared with.
GOOGLENET_RIVAL = "vgg16"


def _wide_branch(spec: GoogLeNetSpec) -> str:
    """How to call branch 3: the paper's 5x5 branch, whose conv is 3x3 in torchvision's GoogLeNet."""
    wide = spec.ch5x5_kernel
    return "5x5 branch" if wide == 5 else "“5x5” branch (its conv is 3x3 here, as in torchvision)"


def _googlenet_describe(spec: GoogLeNetSpec, analysis: Analysis) -> str:
    aux = " Its two auxiliary classifiers (training only) are counted in the totals." if spec.aux_logits else ""
    return (f"A GoogLeNet with a {'-'.join(map(str, spec.stem_channels))} stem and {len(spec.inceptions)} "
            f"Inception blocks, each with a 1x1 branch, a 3x3 branch, a {_wide_branch(spec)} and a pooling "
            "branch"
            f"{' (batch norm after each conv)' if spec.batch_norm else ''}. {_network_line(spec, analysis)}{aux}")


def _branch_outputs(analysis: Analysis, block: str) -> list[int]:
    """Output channels of each branch of an Inception block: the last conv of branch1..branch4."""
    last_conv: dict[str, LayerAnalysis] = {}
    for layer in analysis.layers:
        if layer.block == block and layer.kind == "conv":
            branch = next((part for part in layer.name.split(".") if part.startswith("branch")), "")
            last_conv[branch] = layer
    return [last_conv[name].output_shape[0] for name in sorted(last_conv)]


def _googlenet_questions(spec: GoogLeNetSpec, analysis: Analysis) -> list[Question]:
    questions = []
    index = INCEPTION_NAMES.index("4e")
    block = spec.inceptions[index]
    in_channels = spec.inception_in_channels()[index]
    wide = spec.ch5x5_kernel
    branches = _branch_outputs(analysis, "inception4e")
    labels = ("ch1x1", "ch3x3", "ch5x5", "pool_proj")
    out = sum(branches)
    questions.append(Question(
        prompt=(f"Inception 4e reads {in_channels} channels. How many channels does each of its four branches "
                "output, and how many does the block output?"),
        answer=", ".join(f"{label}: {channels}" for label, channels in zip(labels, branches)) + f" → {out}",
        explanation=("The branches run side by side on the same input and are concatenated along the channels, "
                     f"so out = ch1x1 + ch3x3 + ch5x5 + pool_proj = {' + '.join(map(str, branches))} = {out}. "
                     f"That is the input of 5a (after the max-pool), and the *out* of row 4e in the Inception "
                     "table: nobody types it.")))

    # Q2: what 4e's 1x1 reductions save (weights only, as in the explanation's table).
    with_3 = in_channels * block.ch3x3red + block.ch3x3red * 9 * block.ch3x3
    without_3 = in_channels * 9 * block.ch3x3
    with_5 = in_channels * block.ch5x5red + block.ch5x5red * wide * wide * block.ch5x5
    without_5 = in_channels * wide * wide * block.ch5x5
    saved = without_3 + without_5 - with_3 - with_5
    questions.append(Question(
        prompt=(f"In 4e, 1x1 convs first reduce the {in_channels} input channels to {block.ch3x3red} "
                f"(`ch3x3red`, before the 3x3 branch's conv) and {block.ch5x5red} (`ch5x5red`, before the "
                f"{_wide_branch(spec)}). How many weights do these reductions save, against running those two "
                f"{'3x3' if wide == 3 else '3x3 and 5x5'} convs on all {in_channels} channels?"),
        answer=saved,
        explanation=(f"With them: {in_channels}·{block.ch3x3red} + {block.ch3x3red}·9·{block.ch3x3} = {with_3:,} "
                     f"and {in_channels}·{block.ch5x5red} + {block.ch5x5red}·{wide * wide}·{block.ch5x5} = "
                     f"{with_5:,}. Without: {in_channels}·9·{block.ch3x3} = {without_3:,} and "
                     f"{in_channels}·{wide * wide}·{block.ch5x5} = {without_5:,}. Saved: {saved:,} weights "
                     f"({_pct(saved, without_3 + without_5)} of those branches; biases and batch-norm "
                     "parameters left out). *Why does it look like this?* on the Explore tab lists all nine "
                     "blocks.")))

    # Q3 and Q4: against VGG-16.
    rival_spec = load_preset(GOOGLENET_RIVAL)
    rival = analyze(rival_spec)
    rival_fc = sum(layer.params for layer in rival.layers if layer.block == "head")
    rival_depth = rival_spec.num_conv_layers + len(rival_spec.hidden_sizes) + 1
    depth = 3 + 2 * len(spec.inceptions) + 1  # stem convs, reduction + conv per block, the FC layer
    head_fc = sum(layer.params for layer in analysis.layers if layer.block == "head")
    caveat = "" if analysis.input_shape == rival.input_shape and spec.num_classes == rival_spec.num_classes else (
        f" Careful: this GoogLeNet takes a {shape_text(analysis.input_shape)} input and {spec.num_classes} "
        f"classes, `{GOOGLENET_RIVAL}` a {shape_text(rival.input_shape)} input and {rival_spec.num_classes} "
        "classes.")
    questions.append(Question(
        prompt=(f"How many parameters does this GoogLeNet have, and how many does VGG-16 (`{GOOGLENET_RIVAL}`, "
                f"{rival_depth} weight layers, {shape_text(rival.input_shape)} input, "
                f"{rival_spec.num_classes} classes)?"),
        answer=f"{analysis.total_params:,} vs {rival.total_params:,} "
               f"({_times(analysis.total_params, rival.total_params)})",
        explanation=(f"Along its deepest path GoogLeNet has 3 + 2·{len(spec.inceptions)} + 1 = {depth} weight "
                     f"layers (the stem's convs, a reduction and a conv per Inception block, the FC layer), "
                     f"deeper than VGG-16's {rival_depth}. VGG-16's FC layers hold {rival_fc:,} parameters "
                     f"({_pct(rival_fc, rival.total_params)} of it); GoogLeNet's head is one FC layer of "
                     f"{head_fc:,} after a global average pool, and the 1x1 reductions keep the Inception blocks "
                     f"small.{caveat}")))
    questions.append(Question(
        prompt=f"How many multiply-adds (MACs) per image do this GoogLeNet and `{GOOGLENET_RIVAL}` need?",
        answer=(f"{human_count(analysis.total_macs)} vs {human_count(rival.total_macs)} "
                f"({_times(analysis.total_macs, rival.total_macs)})"),
        explanation=(f"{analysis.total_macs:,} vs {rival.total_macs:,} multiply-adds (torchvision calls these "
                     "GFLOPS). Fewer parameters do not always mean fewer MACs — a conv's cost grows with its map "
                     "size, a weight of a conv on a 56x56 map is used 3,136 times per image — "
                     + ("but here the narrow 1x1 reductions cut both." if analysis.total_macs < rival.total_macs
                        else "and here this GoogLeNet needs more.")
                     + f" Compare the *MACs* charts of the two networks.{caveat}")))
    return questions


# --- lesson 4: AlexNet --------------------------------------------------------------------------------------------
ALEXNET_WALKTHROUGH = """\
1. Click **Load this network** to load `alexnet_original` — the 2012 paper's network: 227x227 input, 96-256-384-384-256
   convs, local response normalisation (LRN) after conv1 and conv2, conv2/4/5 split in two groups — then open the
   **Explore** tab.
2. Look at the **Block diagram**: five convs, three max-pools, three FC layers.
3. In the **Layers** table, follow conv1: its output, `features.conv1.lrn` (same shape, 0 parameters), then the
   3x3/2 max-pool.
4. Untick **Overlapping pooling (3x3/2)** and watch the sizes; set **Groups** to 1 and watch conv2's parameters
   double.
5. Switch the **Chart** to *Parameters* with *Log scale*: the FC layers dwarf the convs. Come back here after each
   edit — the answers follow it.
"""


def _alexnet_describe(spec: AlexNetSpec, analysis: Analysis) -> str:
    options = [f"LRN {'on' if spec.lrn else 'off'}",
               f"{'overlapping 3x3/2' if spec.overlapping_pool else 'plain 2x2/2'} max-pools",
               f"groups = {spec.groups}"]
    return (f"An AlexNet with {'-'.join(map(str, spec.conv_channels))} conv channels and "
            f"{_plural(len(spec.hidden_sizes) + 1, 'FC layer')}; {', '.join(options)}. {_network_line(spec, analysis)}")


def _alexnet_questions(spec: AlexNetSpec, analysis: Analysis) -> list[Question]:
    questions = []
    # Q1: the first max-pool, overlapping vs not.
    conv1 = next(layer for layer in analysis.layers if layer.kind == "conv")
    pool1 = next(layer for layer in analysis.layers if layer.kind == "maxpool")
    size = conv1.output_shape[-1]
    overlap, plain = conv_output_size(size, 3, 2), conv_output_size(size, 2, 2)
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
        answer=f"{_size_text(overlap)} with 3x3/2, {_size_text(plain)} with 2x2/2",
        explanation=(f"⌊(size − k)/stride⌋ + 1: ⌊({size} − 3)/2⌋ + 1 = {overlap} and ⌊({size} − 2)/2⌋ + 1 = "
                     f"{plain}. {same} The paper reports that overlapping pooling lowered the top-1 error by 0.4% "
                     f"and made over-fitting slightly harder. This network uses {used}: the Layers table shows "
                     f"{shape_text(pool1.output_shape)} after `{pool1.name}`.")))

    # Q2: the two-GPU groups, measured by analysing the network with and without them.
    split = ", ".join(f"conv{conv}" for conv in GROUPED_CONVS)
    try:
        ungrouped = analysis if spec.groups == 1 else analyze(replace(spec, groups=1))
        grouped = analysis if spec.groups == 2 else analyze(replace(spec, groups=2))
    except SpecError as exc:
        questions.append(Question(
            prompt=f"How many weights would splitting {split} in two groups (the two-GPU layout) save?",
            answer="none: these widths cannot be split in two",
            explanation=f"{exc.message}. Use even channel counts, as the paper's 96-256-384-384-256."))
        ungrouped = grouped = None
    if ungrouped is not None and grouped is not None:
        saved = ungrouped.total_params - grouped.total_params
        full = {layer.block: layer.params for layer in ungrouped.layers if layer.kind == "conv"}
        halves = {layer.block: layer.params for layer in grouped.layers if layer.kind == "conv"}
        per_conv = "; ".join(f"conv{conv}: {full[f'conv{conv}']:,} → {halves[f'conv{conv}']:,}"
                             for conv in GROUPED_CONVS)
        prompt = (f"{split} are split in two groups (the paper's two-GPU layout). How many weights does that save "
                  "against full convolutions?" if spec.groups == 2 else
                  f"This network has groups = 1. How many weights would splitting {split} in two groups (the "
                  "paper's two-GPU layout) save?")
        questions.append(Question(
            prompt=prompt, answer=saved,
            explanation=(f"A grouped conv's halves each read only half of the input channels, so it has half the "
                         f"weights (the biases stay). Parameters without → with groups: {per_conv}. Saved: "
                         f"{saved:,} ({human_count(saved)}), {_pct(saved, ungrouped.total_params)} of the "
                         "ungrouped network.")))

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
        explanation=(f"LRN divides each activation by (k + α/n·Σ a²)^β over n = {spec.lrn_size} neighbouring "
                     f"channels, with fixed constants k = {spec.lrn_k:g}, α = {spec.lrn_alpha:g}, "
                     f"β = {spec.lrn_beta:g}: nothing is learned. Batch normalisation, which replaced it, learns "
                     "two parameters per channel.")))

    # Q4: the FC layers' share.
    fc = [layer for layer in analysis.layers if layer.kind == "linear"]
    fc_params = sum(layer.params for layer in fc)
    first = fc[0]
    questions.append(Question(
        prompt="What share of the parameters is in the fully connected layers?",
        answer=f"{_pct(fc_params, analysis.total_params)} ({fc_params:,} of {analysis.total_params:,})",
        explanation=(f"The FC layers hold " + " + ".join(f"{layer.params:,}" for layer in fc)
                     + f" = {fc_params:,}. {_describe_layer_params(analysis, first)} The five convs, which do "
                     f"{_pct(sum(l.macs for l in analysis.layers if l.kind == 'conv'), analysis.total_macs)} of "
                     "the multiply-adds, hold the rest.")))
    return questions


# --- the table ----------------------------------------------------------------------------------------------------
LESSONS: tuple[Lesson, ...] = (
    Lesson(id="vgg", title="VGG: blocks of 3x3 convolutions, and why 3x3", preset="vgg16", family="vgg",
           walkthrough=VGG_WALKTHROUGH, describe=_vgg_describe, ask=_vgg_questions),
    Lesson(id="nin", title="NiN: 1x1 convolutions and global average pooling", preset="d2l_nin", family="nin",
           walkthrough=NIN_WALKTHROUGH, describe=_nin_describe, ask=_nin_questions),
    Lesson(id="googlenet", title="GoogLeNet: Inception branches and what 1x1 reductions save", preset="googlenet",
           family="googlenet", walkthrough=GOOGLENET_WALKTHROUGH, describe=_googlenet_describe,
           ask=_googlenet_questions),
    Lesson(id="alexnet", title="AlexNet: LRN, overlapping pooling and two GPUs", preset="alexnet_original",
           family="alexnet", walkthrough=ALEXNET_WALKTHROUGH, describe=_alexnet_describe,
           ask=_alexnet_questions),
)


def lesson_ids() -> list[str]:
    return [lesson.id for lesson in LESSONS]


def get_lesson(lesson_id: str) -> Lesson:
    """The lesson called ``lesson_id``.

    Raises:
        ValueError: for an unknown id, listing the known ones.
    """
    for lesson in LESSONS:
        if lesson.id == lesson_id:
            return lesson
    shown = lesson_id if isinstance(lesson_id, str) and len(lesson_id) <= 40 else f"{str(lesson_id)[:40]}..."
    raise ValueError(f"no lesson called {shown!r}; choose one of {', '.join(lesson_ids())}")
