"""The block record: every block's numbers against a real forward pass with hooks on the recorded modules, an
independent receptive-field recurrence written here, and torchvision's figures; for every preset and a few
hundred generated specs."""
from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from explorer import analyze, build_model
from explorer.presets import load_preset, preset_names
from explorer.specs import AlexNetSpec, GoogLeNetSpec, NiNBlockSpec, NiNSpec, SpecError, VGGSpec

REFERENCE_INCEPTION_OUT = {"inception3a": 256, "inception3b": 480, "inception4a": 512, "inception4b": 512,
                           "inception4c": 512, "inception4d": 528, "inception4e": 832, "inception5a": 832,
                           "inception5b": 1024}  # torchvision googlenet, REFERENCE.md


def _generated_specs(count: int, seed: int = 0) -> list:
    """Small random specs of every family (invalid draws are skipped), at odd sizes."""
    rng = random.Random(seed)
    specs = []
    while len(specs) < count:
        family = rng.choice(("vgg", "googlenet", "nin", "alexnet"))
        try:
            if family == "vgg":
                spec = VGGSpec(conv_arch=tuple((rng.randint(1, 3), rng.choice((4, 8, 12))) for _ in range(rng.randint(1, 4))),
                               in_channels=rng.choice((1, 3)), num_classes=rng.randint(2, 12),
                               input_size=rng.randint(16, 64), hidden_sizes=tuple(rng.choice((8, 16)) for _ in range(rng.randint(0, 2))),
                               batch_norm=rng.random() < 0.5, avgpool_size=rng.choice((None, 1, 2, 3)),
                               fc_as_conv=rng.random() < 0.2)
            elif family == "googlenet":
                rows = [tuple(rng.randint(1, 6) for _ in range(6)) for _ in range(9)]
                spec = GoogLeNetSpec(inceptions=rows, in_channels=rng.choice((1, 3)), num_classes=rng.randint(2, 12),
                                     input_size=rng.randint(33, 80), stem_channels=(4, 4, 8),
                                     batch_norm=rng.random() < 0.5, aux_logits=rng.random() < 0.3,
                                     ch5x5_kernel=rng.choice((3, 5)), pool_mode=rng.choice(("ceil", "pad")))
            elif family == "nin":
                blocks = tuple(NiNBlockSpec(rng.choice((4, 8)), kernel, rng.randint(1, 2), rng.randint(0, kernel // 2))
                               for kernel in (rng.choice((1, 3, 5)) for _ in range(rng.randint(1, 3))))
                spec = NiNSpec(blocks=blocks, in_channels=rng.choice((1, 3)), num_classes=rng.randint(2, 12),
                               input_size=rng.randint(24, 72), pool_kernel=rng.choice((2, 3)), pool_stride=2,
                               head_kernel_size=rng.choice((1, 3)))
            else:
                spec = AlexNetSpec(in_channels=rng.choice((1, 3)), num_classes=rng.randint(2, 12),
                                   input_size=rng.randint(63, 120), conv_channels=(8, 8, 12, 8, 8),
                                   conv1_kernel=rng.choice((5, 7, 11)), conv1_stride=rng.choice((2, 4)),
                                   conv1_padding=2, hidden_sizes=(16,), lrn=rng.random() < 0.5,
                                   groups=rng.choice((1, 2)), overlapping_pool=rng.random() < 0.5,
                                   avgpool_size=rng.choice((None, 2)))
        except SpecError:
            continue
        specs.append(spec)
    return specs


GENERATED = _generated_specs(240)


# --- an independent receptive-field recurrence --------------------------------------------------------------
def _fold(module: nn.Module, field: tuple[int, int]) -> tuple[int, int]:
    """(receptive field, jump) after ``module``, by the textbook recurrence r += (k - 1) * j, j *= s; parallel
    branches (Inception's four, a residual block's two paths) take the widest."""
    rf, jump = field
    if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        kernel = module.kernel_size if isinstance(module.kernel_size, int) else module.kernel_size[0]
        stride = module.stride if isinstance(module.stride, int) else module.stride[0]
        return rf + (kernel - 1) * jump, jump * stride
    branches = [getattr(module, name) for name in ("branch1", "branch2", "branch3", "branch4") if hasattr(module, name)]
    if branches:
        return max(_fold(branch, field) for branch in branches)
    if isinstance(module, nn.Sequential):
        for child in module:
            field = _fold(child, field)
        return field
    return field  # ReLU, BN, LRN, dropout: one pixel in, one out


def _recurrence_by_block(model: nn.Module, spec) -> dict[str, tuple[int, int]]:  # noqa: ANN001
    """The receptive field and jump of each recorded feature block's output, folding the blocks in order."""
    modules = dict(model.named_modules())
    field, result = (1, 1), {}
    for entry in model.block_info:
        if entry["kind"] in ("aux", "head"):
            continue
        if entry.get("branches"):  # each path from the block's input; an identity path keeps the input's field
            ends = []
            for branch in entry["branches"]:
                end = field
                for path in branch["modules"]:
                    end = _fold(modules[path], end)
                ends.append(end)
            field = max(ends)
        else:
            for path in entry["modules"]:
                field = _fold(modules[path], field)
        result[entry["name"]] = field
    return result


def _forward_block_shapes(model: nn.Module, spec) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:  # noqa: ANN001
    """(input shape, output shape) of every recorded block in a real CPU forward pass, batch dim dropped."""
    modules = dict(model.named_modules())
    seen: dict[str, list] = {}
    handles = []
    for entry in model.block_info:
        first, last = modules[entry["modules"][0]], modules[entry["modules"][-1]]
        record = seen.setdefault(entry["name"], [None, None])
        handles.append(first.register_forward_pre_hook(
            lambda module, args, record=record: record.__setitem__(0, tuple(args[0].shape[1:]))))
        handles.append(last.register_forward_hook(
            lambda module, args, output, record=record: record.__setitem__(1, tuple(output.shape[1:]))))
    model.eval()
    if hasattr(model, "run_aux_in_eval"):
        model.run_aux_in_eval = True
    try:
        with torch.no_grad():
            model(torch.randn(2, spec.in_channels, spec.input_size, spec.input_size))
    finally:
        for handle in handles:
            handle.remove()
    return {name: (shapes[0], shapes[1]) for name, shapes in seen.items()}


def _check_blocks(spec) -> None:  # noqa: ANN001
    analysis = analyze(spec)
    model = build_model(spec)
    forward = _forward_block_shapes(model, spec)
    assert [block.name for block in analysis.blocks] == [entry["name"] for entry in model.block_info]
    recurrence = _recurrence_by_block(model, spec)
    modules = dict(model.named_modules())
    for block in analysis.blocks:
        assert (block.input_shape, block.output_shape) == forward[block.name], block.name
        params = sum(p.numel() for path in block.modules for p in modules[path].parameters())
        assert block.params == params, block.name
        if block.branches and block.merge == "concat":
            assert block.output_shape[0] == sum(branch.width for branch in block.branches)
        if block.name in recurrence:
            assert (block.receptive_field, block.effective_stride) == recurrence[block.name], block.name
    assert sum(block.params for block in analysis.blocks) == analysis.total_params
    assert sum(block.macs for block in analysis.blocks) == analysis.total_macs
    features = [block for block in analysis.blocks if block.kind not in ("aux", "head")]
    assert analysis.feature_receptive_field == recurrence[features[-1].name][0]


@pytest.mark.parametrize("name", preset_names())
def test_preset_blocks_match_a_real_forward_pass_and_the_recurrence(name: str) -> None:
    spec = load_preset(name)
    if spec.planned_params() > 30_000_000:  # keep CI fast: the big ones at a small input size with few classes
        spec = spec.replace(num_classes=10, input_size=112,
                            **({"hidden_sizes": (64, 64)} if hasattr(spec, "hidden_sizes") else {}))
    _check_blocks(spec)


@pytest.mark.parametrize("index", range(len(GENERATED)))
def test_generated_blocks_match_a_real_forward_pass_and_the_recurrence(index: int) -> None:
    _check_blocks(GENERATED[index])


def test_googlenet_inception_outputs_are_the_concatenation() -> None:
    analysis = analyze(load_preset("googlenet"))
    for name, channels in REFERENCE_INCEPTION_OUT.items():
        assert analysis.block(name).output_shape[0] == channels
    assert analysis.block("inception3a").output_shape == (256, 28, 28)
    assert analysis.block("inception5b").output_shape == (1024, 7, 7)
    # ... also as a row of its own in the layer table, after the branches
    rows = analysis.layers_of("inception3a")
    assert rows[-1].kind == "concat" and rows[-1].output_shape == (256, 28, 28)


def test_d2l_googlenet_headline_receptive_field_is_the_widest_branch() -> None:
    analysis = analyze(load_preset("d2l_googlenet"))
    last = analysis.block("inception5b")
    assert analysis.feature_receptive_field == last.receptive_field == 715
    assert last.receptive_field == max(branch.receptive_field for branch in last.branches)
    assert {branch.name: branch.receptive_field for branch in last.branches}["branch3"] == 715  # the 5x5


def test_vgg16_headline_is_block5_and_the_table_goes_on_to_the_head() -> None:
    analysis = analyze(load_preset("vgg16"))
    assert analysis.feature_receptive_field == analysis.block("block5").receptive_field == 212
    fc1 = next(layer for layer in analysis.layers if layer.name == "head.fc1")
    assert fc1.receptive_field == 404  # the FC layer sees the whole (zero-padded) map


def test_leaf_input_shapes_are_the_previous_outputs_on_a_chain() -> None:
    analysis = analyze(load_preset("d2l_vgg11"))
    convs = [layer for layer in analysis.layers if layer.block == "block3"]
    assert convs[0].input_shape == analysis.block("block2").output_shape
    for before, after in zip(convs, convs[1:]):
        assert after.input_shape == before.output_shape


@pytest.mark.parametrize("name", preset_names())
def test_planned_macs_equal_torchinfo_after_its_bias_and_bn_terms(name: str) -> None:
    """The plan counts multiply-adds as published (no bias adds); torchinfo adds one per bias output value
    and one per BN parameter."""
    spec = load_preset(name)
    analysis = analyze(spec)
    model = build_model(spec, device="meta")
    modules = dict(model.named_modules())
    extra = 0
    for layer in analysis.layers:
        module = modules.get(layer.name)
        if isinstance(module, nn.Conv2d) and module.bias is not None:
            extra += layer.output_shape[0] * layer.output_shape[1] * layer.output_shape[2]
        elif isinstance(module, nn.Linear) and module.bias is not None:
            extra += module.out_features
        elif isinstance(module, nn.BatchNorm2d):
            extra += 2 * module.num_features
    planned = sum(layer.macs for layer in spec.planned_layers())
    assert planned + extra == analysis.total_macs


def test_block_record_is_json_ready() -> None:
    import json

    data = analyze(load_preset("googlenet_aux")).to_dict()
    text = json.dumps(data)
    assert json.loads(text)["blocks"][2]["output_shape"] == [256, 28, 28]
    kinds = {block["kind"] for block in data["blocks"]}
    assert {"stem", "pool", "inception", "aux", "head"} <= kinds
