"""VGG: why stacks of 3x3 convolutions, where the parameters are, FC layers as convolutions."""
from __future__ import annotations

from ..analysis import Analysis, BlockAnalysis
from ..report import shape_text
from ..specs import VGGSpec
from . import (Lesson, Question, describe_layer_params, network_line, parameters_section, plural,
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


def explain(spec: VGGSpec, analysis: Analysis) -> str:
    """Why stacks of 3x3 convolutions, with this network's widths."""
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


def describe(spec: VGGSpec, analysis: Analysis) -> str:
    stacks = _stacks(analysis)
    sizes = " → ".join([str(analysis.input_shape[-1]), *(str(block.output_shape[-1]) for block, _ in stacks)])
    blocks = ", ".join(f"{stack.num_convs}×{stack.channels}" for _, stack in stacks)
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


def ask(spec: VGGSpec, analysis: Analysis) -> list[Question]:
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
        stack_text = f"Block {index + 1} has a single 3x3 conv of {channels} channels (it sees 3x3 pixels)."
        saving = ("No block of this network stacks 3x3 convs, so there is nothing to save: edit `conv_arch` to "
                  "`(3, 512)` for a block and ask again.")
    else:
        stack_text = (f"Block {index + 1} stacks {num_convs} 3x3 convs of {channels} channels; together they see "
                      f"a {size_text(window)} window.")
        saving = (f"The stack has {percent(stack.saved, stack.single_params)} fewer parameters and {num_convs} "
                  "ReLUs instead of one.")
    if first_in == channels:
        real = (f"In this network the block reads {first_in} channels, so its convs hold exactly "
                f"{actual:,} parameters (the Layers table).")
    else:
        real = (f"In this network the block's first conv reads {first_in} channels from the block before, so "
                f"the block's convs really hold {actual:,} parameters (the Layers table).")
    questions.append(Question(
        prompt=(f"{stack_text} With {channels} channels in and out, how many parameters (weights + biases) does "
                f"the stack have, and how many would one {size_text(window)} conv of the same width have?"),
        answer=f"{stack.stacked_params:,} vs {stack.single_params:,}",
        explanation=(f"n·(9·C² + C) = {num_convs}·(9·{channels}² + {channels}) = {stack.stacked_params:,}; "
                     f"(2n+1)²·C² + C = {window * window}·{channels}² + {channels} = {stack.single_params:,}. "
                     f"{saving} {real}")))

    # Q2: the largest layer.
    biggest = max(analysis.layers, key=lambda layer: layer.params)
    questions.append(Question(
        prompt="Which layer holds the most parameters, and how many?",
        answer=f"{biggest.name} ({biggest.params:,} parameters)",
        explanation=(f"{describe_layer_params(analysis, biggest)} That is "
                     f"{percent(biggest.params, analysis.total_params)} of all {analysis.total_params:,} "
                     "parameters."
                     + (" A conv reuses its small kernel at every position; a fully connected layer has one "
                        "weight per input value and output." if biggest.kind == "linear" else ""))))

    # Q3: receptive field of the last block's output, its max-pool ("pool5" in VGG-16).
    last = stacks[-1][0]
    pool = next(layer for layer in reversed(analysis.layers_of(last.name)) if layer.kind == "maxpool")
    steps = ", ".join(f"{block.name}: {block.receptive_field}" for block, _ in stacks)
    beyond = (f" That is more than the {analysis.input_shape[-1]}-pixel input: the outer part of the window is "
              "padding." if last.receptive_field > analysis.input_shape[-1] else "")
    questions.append(Question(
        prompt=(f"What is the receptive field of the last max-pool (`{pool.name}`, pool{len(stacks)}): how many "
                "input pixels per side can one of its outputs see?"),
        answer=last.receptive_field,
        explanation=("Each 3x3 conv adds 2·jump pixels and each 2x2/2 max-pool adds 1·jump, then doubles the "
                     "jump (the input pixels between neighbouring outputs, 1 at the input). After each block: "
                     f"{steps}.{beyond} This is the headline's receptive field; the RF column of the Layers table "
                     "shows every step, and a larger one from the head's flatten on (it reads the whole map).")))
    return questions


LESSONS: tuple[Lesson, ...] = (
    Lesson(id="vgg", title="VGG: blocks of 3x3 convolutions, and why 3x3", preset="vgg16", family="vgg",
           steps=STEPS, describe=describe, ask=ask),
)
