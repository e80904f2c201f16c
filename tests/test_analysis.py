"""Analysis: checked against torchvision's models, REFERENCE.md's figures, published receptive fields and the
textbook receptive-field recurrence."""
from __future__ import annotations

import json
from functools import partial

import pytest
import torch
import torchvision
from torchinfo import summary

from explorer import analyze, build_model
from explorer.analysis import clear_cache
from explorer.models import GoogLeNet
from explorer.presets import load_preset, preset_names
from explorer.specs import NiNSpec, SpecError, VGGSpec
from explorer.specs.resnet import ResNetSpec
from tests.test_blocks import GENERATED

# REFERENCE.md: torchvision.models at 3x224x224 (params, GMACs as torchvision's "GFLOPS").
REFERENCE = {
    "vgg11": (132_863_336, 7.609), "vgg11_bn": (132_868_840, 7.609),
    "vgg13": (133_047_848, 11.308), "vgg13_bn": (133_053_736, 11.31),
    "vgg16": (138_357_544, 15.47), "vgg16_bn": (138_365_992, 15.47),
    "vgg19": (143_667_240, 19.632), "vgg19_bn": (143_678_248, 19.63),
    "googlenet": (6_624_904, 1.498), "googlenet_aux": (13_004_888, None),
    "alexnet": (61_100_840, 0.714),
}
TORCHVISION_BUILDERS = {
    **{name: (name, {}) for name in REFERENCE if name.startswith(("vgg", "alexnet"))},
    "googlenet": ("googlenet", {"aux_logits": False, "init_weights": False}),
    "googlenet_aux": ("googlenet", {"aux_logits": True, "init_weights": False}),
}


def torchvision_meta(name: str) -> torch.nn.Module:
    builder, kwargs = TORCHVISION_BUILDERS[name]
    with torch.device("meta"):
        return getattr(torchvision.models, builder)(**kwargs)


def layer(analysis, name: str):  # noqa: ANN001, ANN201
    matches = [entry for entry in analysis.layers if entry.name == name]
    assert len(matches) == 1, f"{name} not in {[entry.name for entry in analysis.layers]}"
    return matches[0]


# --- torchvision and REFERENCE.md ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_params_equal_torchvision_and_reference(name: str) -> None:
    analysis = analyze(load_preset(name))
    torchvision_params = sum(parameter.numel() for parameter in torchvision_meta(name).parameters())
    assert analysis.total_params == torchvision_params == REFERENCE[name][0]
    assert analysis.param_bytes == 4 * analysis.total_params


@pytest.mark.parametrize("name", sorted(name for name, (_, gmacs) in REFERENCE.items() if gmacs is not None))
def test_macs_within_one_percent_of_reference(name: str) -> None:
    gmacs = REFERENCE[name][1]
    assert analyze(load_preset(name)).total_macs / 1e9 == pytest.approx(gmacs, rel=0.01)


@pytest.mark.parametrize("name", ["vgg11", "vgg16", "vgg19_bn", "alexnet", "googlenet"])
def test_macs_equal_torchinfo_on_torchvision(name: str) -> None:
    stats = summary(torchvision_meta(name), input_size=(1, 3, 224, 224), device="meta", mode="eval", verbose=0)
    analysis = analyze(load_preset(name))
    assert analysis.total_macs == stats.total_mult_adds
    if name == "vgg16":
        assert stats.total_mult_adds == 15_483_821_032  # REFERENCE.md's torchinfo figure


def test_googlenet_aux_heads_are_counted_but_not_the_output() -> None:
    plain, aux = analyze(load_preset("googlenet")), analyze(load_preset("googlenet_aux"))
    aux_layers = [entry for entry in aux.layers if entry.block.startswith("aux")]
    assert {entry.block for entry in aux_layers} == {"aux1", "aux2"}
    assert sum(entry.params for entry in aux_layers) == aux.total_params - plain.total_params
    assert aux.output_shape == plain.output_shape == (1000,)


# --- torchinfo, the oracle for every layer ---------------------------------------------------------------------------
#: ~30 generated specs of every family but ResNet (tests/test_blocks.py's), and ResNets of both blocks and styles.
ORACLE_SPECS = GENERATED[::8] + [
    ResNetSpec(input_size=64, block="bottleneck", stages=((1, 16), (2, 32))),
    ResNetSpec(input_size=57, style="d2l", batch_norm=False, stages=((2, 8), (1, 16, 1), (1, 32, 3))),
]


def torchinfo_rows(spec) -> tuple[list[tuple], int, int]:  # noqa: ANN001
    """(name, output shape, params, MACs) of every executed leaf in torchinfo's order, and its two totals, from
    ``torchinfo.summary`` on the meta model analyze() measures (eval mode; GoogLeNet's aux heads run)."""
    model = build_model(spec, device="meta")
    if isinstance(model, GoogLeNet):
        model.run_aux_in_eval = True
    names = {module: name for name, module in model.named_modules()}
    stats = summary(model, input_size=(1, spec.in_channels, spec.input_size, spec.input_size), device="meta",
                    mode="eval", verbose=0, col_names=("output_size", "num_params", "mult_adds"))
    rows = [(names[info.module], tuple(info.output_size[1:]), info.num_params, info.macs)
            for info in stats.summary_list if info.is_leaf_layer and info.executed]
    return rows, stats.total_params, stats.total_mult_adds


@pytest.mark.parametrize("spec", [load_preset(name) for name in preset_names()] + ORACLE_SPECS,
                         ids=preset_names() + [f"generated{index}" for index in range(len(ORACLE_SPECS))])
def test_every_layer_equals_torchinfo(spec) -> None:  # noqa: ANN001
    """analyze() counts with its own hook what torchinfo.summary counted: the same leaves in the same (execution)
    order, each with the same output shape, parameters and multiply-adds, and the same totals."""
    clear_cache()
    analysis = analyze(spec)
    rows, total_params, total_macs = torchinfo_rows(spec)
    leaves = [(layer.name, layer.output_shape, layer.params, layer.macs) for layer in analysis.layers
              if layer.kind not in ("concat", "add")]  # the merge rows are the block record's, not modules
    assert leaves == rows
    assert (analysis.total_params, analysis.total_macs) == (total_params, total_macs)


def test_shape_only_forwards_equal_the_real_layers_on_meta() -> None:
    """The analysed copy's conv and pool layers compute their output shape from their arguments: the same shape
    as the real layer for every small geometry (ceil mode's last-window rule included), and an error where it
    refuses."""
    from explorer.analysis import _SHAPE_ONLY

    def outcome(forward, x):  # noqa: ANN001, ANN202
        try:
            return tuple(forward(x).shape)
        except (RuntimeError, ValueError):
            return "refused"

    checked = 0
    with torch.device("meta"):
        layers = [torch.nn.MaxPool2d(kernel, stride=stride, padding=padding, ceil_mode=ceil, dilation=dilation)
                  for kernel in (1, 2, 3, 4) for stride in (1, 2, 3, 4) for dilation in (1, 2)
                  for padding in range(kernel + 1) for ceil in (False, True)]
        layers += [torch.nn.Conv2d(4, 6, kernel, stride=stride, padding=padding, dilation=dilation, groups=groups)
                   for kernel in (1, 2, 3, 5) for stride in (1, 2, 3) for padding in (0, 1, 2, "valid")
                   for dilation in (1, 2) for groups in (1, 2)]
        layers += [torch.nn.Conv2d(4, 4, 3, padding="same", dilation=2), torch.nn.AdaptiveAvgPool2d((4, None)),
                   torch.nn.AdaptiveAvgPool2d(1), torch.nn.AdaptiveAvgPool2d((2, 3)), torch.nn.BatchNorm2d(4),
                   torch.nn.LocalResponseNorm(2), torch.nn.Linear(7, 3)]
    for module in layers:
        for size in range(1, 10):
            for x in (torch.empty(2, 4, size, size + 1, device="meta"), torch.empty(4, size, 7, device="meta"),
                      torch.empty(2, 3, size, size, device="meta")):
                expected = outcome(module, x)
                assert outcome(partial(_SHAPE_ONLY[type(module)], module), x) == expected, (module, tuple(x.shape))
                checked += expected != "refused"
    assert checked > 1000


def test_initialisation_is_skipped_only_for_the_analysis(monkeypatch: pytest.MonkeyPatch) -> None:
    """analyze() builds its meta model without running the initialisers; a model built for training, before,
    after, or meanwhile in another thread, is initialised as ever."""
    import threading

    from explorer.analysis import _initialisation_skipped

    spec = VGGSpec(conv_arch=((1, 8), (1, 8)), input_size=32, hidden_sizes=(16,), batch_norm=True)
    initialised = []
    kaiming = torch.nn.init.kaiming_uniform_
    monkeypatch.setattr(torch.nn.init, "kaiming_uniform_", lambda tensor, *args, **kwargs: (
        initialised.append(tensor.shape) or kaiming(tensor, *args, **kwargs)))

    def build_for_training() -> torch.nn.Module:
        initialised.clear()
        model = build_model(spec)
        assert len(initialised) == 4  # the weights of two convolutions and two linear layers
        batch_norm = next(module for module in model.modules() if isinstance(module, torch.nn.BatchNorm2d))
        assert bool((batch_norm.weight == 1).all()) and bool((batch_norm.running_var == 1).all())
        return model

    build_for_training()
    clear_cache()
    initialised.clear()
    analyze(spec)
    assert initialised == []
    build_for_training()
    with _initialisation_skipped():
        other = threading.Thread(target=build_for_training)
        other.start()
        other.join()
        initialised.clear()
        build_model(spec, device="meta")
        assert initialised == []
    build_for_training()


# --- shapes ------------------------------------------------------------------------------------------------------
def test_d2l_vgg11_block_outputs() -> None:
    analysis = analyze(load_preset("d2l_vgg11"))
    block_outputs = [row["output_shape"] for row in analysis.block_totals()]
    assert block_outputs[:5] == [(64, 112, 112), (128, 56, 56), (256, 28, 28), (512, 14, 14), (512, 7, 7)]
    head = [entry.output_shape for entry in analysis.layers if entry.kind in ("flatten", "linear")]
    assert head == [(25088,), (4096,), (4096,), (10,)]
    assert analysis.input_shape == (1, 224, 224)


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_is_consistent(name: str) -> None:
    spec = load_preset(name)
    analysis = analyze(spec)
    assert analysis.family == spec.family
    assert analysis.output_shape == (spec.num_classes,)
    assert analysis.total_params == spec.planned_params() == sum(entry.params for entry in analysis.layers)
    assert analysis.total_macs == sum(entry.macs for entry in analysis.layers)
    assert all(entry.activation_bytes == 4 * _prod(entry.output_shape) for entry in analysis.layers)
    assert [block.name for block in analysis.blocks] == list(dict.fromkeys(entry.block for entry in analysis.layers))
    # The arithmetic plan's convolution outputs are the analysed ones, in order.
    planned = [planned.out_shape for planned in spec.planned_layers() if planned.operation.endswith(" conv")]
    analysed = [entry.output_shape for entry in analysis.layers if entry.kind == "conv"]
    assert planned == analysed


def _prod(shape: tuple[int, ...]) -> int:
    result = 1
    for size in shape:
        result *= size
    return result


# --- receptive fields ------------------------------------------------------------------------------------------------
def test_vgg16_receptive_fields_match_published_values() -> None:
    # Araujo, Norris & Sim 2019, "Computing Receptive Fields of Convolutional Neural Networks" (Distill), Table 1:
    # VGG-16's last feature layer (pool5) sees 212 px with effective stride 32; conv5_3, one pool earlier, 196 / 16.
    analysis = analyze(load_preset("vgg16"))
    conv5_3 = layer(analysis, "features.block5.conv3")
    pool5 = layer(analysis, "features.block5.pool")
    assert (conv5_3.receptive_field, conv5_3.effective_stride) == (196, 16)
    assert (pool5.receptive_field, pool5.effective_stride) == (212, 32)
    assert analysis.feature_receptive_field == 212
    assert layer(analysis, "features.block1.conv1").receptive_field == 3


def test_alexnet_receptive_fields_match_published_values() -> None:
    # Same source: AlexNet's pool5 sees 195 px with effective stride 32; conv5 163 / 16.
    analysis = analyze(load_preset("alexnet"))
    conv5 = layer(analysis, "features.conv5.conv")
    pool5 = layer(analysis, "features.conv5.pool")
    assert (conv5.receptive_field, conv5.effective_stride) == (163, 16)
    assert (pool5.receptive_field, pool5.effective_stride) == (195, 32)
    assert layer(analysis, "features.conv1.conv").receptive_field == 11


def textbook_receptive_fields(spec: NiNSpec) -> list[tuple[int, int]]:
    """(r, j) after each conv and pool of a NiN's feature blocks: r += (k - 1) * j, j *= s (r0 = j0 = 1)."""
    r, j, out = 1, 1, []
    for block in spec.blocks:
        for kernel, stride in [(block.kernel_size, block.stride)] + [(1, 1)] * len(block.one_by_one_channels) + [
                (spec.pool_kernel, spec.pool_stride)]:
            r, j = r + (kernel - 1) * j, j * stride
            out.append((r, j))
    return out


@pytest.mark.parametrize("spec", [load_preset("d2l_nin"), load_preset("nin_cifar"),
                                  NiNSpec(blocks=[(8, 7, 3, 2, (8,)), (8, 5, 2, 1), (8, 3, 1, 1)], pool_kernel=2,
                                          pool_stride=2, input_size=200)],
                         ids=["d2l_nin", "nin_cifar", "hand_made"])
def test_nin_receptive_fields_follow_the_recurrence(spec: NiNSpec) -> None:
    analysis = analyze(spec)
    features = [(entry.receptive_field, entry.effective_stride) for entry in analysis.layers
                if entry.name.startswith("features.") and entry.kind in ("conv", "maxpool")]
    expected = textbook_receptive_fields(spec)
    assert features == expected
    assert analysis.feature_receptive_field == expected[-1][0]


def test_receptive_field_of_a_small_vgg_by_hand() -> None:
    # Two blocks of two 3x3 convs: 3, 5, pool 6 (stride 2), 10, 14, pool 16 (stride 4).
    analysis = analyze(VGGSpec(conv_arch=((2, 8), (2, 8)), input_size=32, hidden_sizes=(16,)))
    features = [entry.receptive_field for entry in analysis.layers if entry.kind in ("conv", "maxpool")]
    assert features == [3, 5, 6, 10, 14, 16]


# --- the record -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["vgg16_bn", "googlenet_aux", "d2l_nin", "alexnet_original"])
def test_to_dict_is_json_serialisable(name: str) -> None:
    analysis = analyze(load_preset(name))
    data = json.loads(json.dumps(analysis.to_dict()))
    assert data["total_params"] == analysis.total_params
    assert data["total_macs"] == analysis.total_macs
    assert len(data["layers"]) == len(analysis.layers)
    assert data["layers"][0]["output_shape"] == list(analysis.layers[0].output_shape)
    assert sum(row["params"] for row in data["block_totals"]) == analysis.total_params


def test_training_memory_is_the_train_tabs_memory_model() -> None:
    """The analysis's training memory is explorer.training.memory's estimate (fp32, Adam, GPU by default); that
    model is checked against the live tensor bytes of real runs in tests/test_training_memory.py."""
    from explorer.training.memory import estimate_training_memory

    analysis = analyze(load_preset("vgg11"))
    for batch, optimizer, precision, device_type in [(1, "adam", "fp32", "cuda"), (32, "sgd", "bf16", "cuda"),
                                                     (128, "momentum", "fp32", "cpu")]:
        expected = estimate_training_memory(analysis, batch, optimizer=optimizer, precision=precision,
                                            device_type=device_type)
        assert analysis.training_memory(batch, optimizer=optimizer, precision=precision,
                                        device_type=device_type) == expected
        assert analysis.training_memory_bytes(batch, optimizer=optimizer, precision=precision,
                                              device_type=device_type) == expected.total
    assert analysis.training_memory_bytes(8) == estimate_training_memory(
        analysis, 8, optimizer="adam", precision="fp32", device_type="cuda").total


def test_training_memory_grows_with_batch_and_optimizer_state() -> None:
    analysis = analyze(load_preset("vgg11"))
    estimates = [analysis.training_memory(batch) for batch in (1, 2, 32, 128)]
    by_batch = [estimate.total for estimate in estimates]
    assert by_batch == sorted(by_batch)
    # Small batches: the optimizer step is the peak (weights, gradients, two moments, a temporary), whatever the
    # batch; large ones: the backward pass, where one more image keeps at least its saved activations.
    assert [estimate.peak_phase for estimate in estimates] == ["optimizer step"] * 2 + ["forward/backward"] * 2
    assert by_batch[0] == by_batch[1] == 5 * analysis.param_bytes + estimates[0].workspace
    assert (by_batch[3] - by_batch[2]) / 96 >= analysis.saved_activation_bytes > 0
    sgd = analysis.training_memory_bytes(128, optimizer="sgd")
    momentum = analysis.training_memory_bytes(128, optimizer="momentum")
    adam = analysis.training_memory_bytes(128, optimizer="adam")
    assert adam - momentum == momentum - sgd == analysis.param_bytes  # one more copy of the weights each
    assert sgd >= 2 * analysis.param_bytes  # at least weights and gradients
    assert analysis.training_memory_bytes(128, precision="bf16") < adam  # bf16 activations take half the bytes


def test_explore_card_and_compare_table_show_the_train_tabs_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    """VGG-11 small at batch 128, fp32, Adam: the Explore card, the Compare table and the summary show what the
    Train tab's memory check (estimate_run) computes for a GPU; on the CPU the two agree too."""
    from explorer.charts.analysis import summary_cards
    from explorer.report import format_summary, human_bytes
    from explorer.training import TrainConfig, estimate
    from explorer.ui.views import compare_markdown, headline_html

    spec = load_preset("d2l_vgg11_small")
    config = TrainConfig(dataset="fashion-mnist", batch_size=128, optimizer="adam", precision="fp32",
                         weight_decay=0.0, device="cuda")
    # Pretend a GPU: with measure=False the estimate touches no device, it only asks which one and how free it is.
    monkeypatch.setattr(estimate, "resolve_device", lambda device: torch.device("cuda", 0))
    monkeypatch.setattr(estimate, "free_memory_bytes", lambda device: None)
    train_tab = estimate.estimate_run(spec, config, measure=False)
    assert train_tab.memory["device_type"] == "cuda" and train_tab.input_size == spec.input_size
    analysis = analyze(spec, batch_size=128)
    assert analysis.training_memory_bytes(128) == train_tab.training_memory_bytes
    label, value = next(card for card in summary_cards(analysis, batch_size=128) if "Training memory" in card[0])
    assert label == "Training memory (batch 128, fp32, Adam, GPU)"
    assert value == human_bytes(train_tab.training_memory_bytes) and value in headline_html(analysis, batch_size=128)
    assert f"| {label} | {value} | {value} | ±0 B (+0.0%) |" in compare_markdown(analysis, analysis, batch_size=128)
    assert f"training memory, batch 128: {value} " in format_summary(analysis)
    monkeypatch.undo()
    on_cpu = estimate.estimate_run(spec, TrainConfig(**{**config.to_dict(), "device": "cpu"}), measure=False)
    assert on_cpu.memory["device_type"] == "cpu"
    assert analysis.training_memory_bytes(128, device_type="cpu") == on_cpu.training_memory_bytes


def test_batch_size_is_recorded_and_validated() -> None:
    spec = load_preset("nin_cifar")
    assert analyze(spec, batch_size=16).batch_size == 16
    assert analyze(spec, batch_size=16).training_memory_bytes() == analyze(spec).training_memory_bytes(16)
    for bad in (0, -1, True, 2.0, 10**6):
        with pytest.raises(SpecError) as info:
            analyze(spec, batch_size=bad)
        assert info.value.field == "batch_size"


def test_analyze_refuses_invalid_specs() -> None:
    with pytest.raises(SpecError):
        analyze({"family": "vgg", "input_size": 16})
    with pytest.raises(SpecError):
        analyze('{"family": "nin", "blocks": "__import__(\'os\')"}')


def test_analyze_accepts_dicts_and_caches() -> None:
    spec = load_preset("nin_cifar")
    first = analyze(spec)
    assert analyze(spec.to_dict()) is first  # an equal spec hits the cache
    clear_cache()
    fresh = analyze(spec)
    assert fresh is not first and fresh == first
