"""Models: a real forward pass agrees with the meta-device analysis, every layer runs, and models return logits."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from explorer import analyze, build_model
from explorer.models import GoogLeNetOutputs, main_logits
from explorer.presets import load_preset, preset_names
from explorer.specs import AlexNetSpec, GoogLeNetSpec, NiNBlockSpec, NiNSpec, VGGSpec

# Specs that are not presets, at odd input sizes (ceil-mode pools, flattened sizes that are not 7x7).
HAND_MADE = {
    "vgg_small_bn": VGGSpec(conv_arch=((1, 8), (2, 16)), in_channels=1, num_classes=5, input_size=37,
                            hidden_sizes=(32,), batch_norm=True, avgpool_size=None),
    "vgg_no_hidden": VGGSpec(conv_arch=((1, 8),), input_size=20, hidden_sizes=(), num_classes=3, dropout=0.0),
    "vgg_fc_as_conv": VGGSpec(conv_arch=((1, 8), (1, 16)), input_size=45, hidden_sizes=(32, 32), num_classes=4,
                              fc_as_conv=True, avgpool_size=3),
    "googlenet_odd": GoogLeNetSpec(inceptions=[(8, (8, 16), (4, 8), 8)] * 9, num_classes=6, input_size=53,
                                   stem_channels=(16, 16, 32), aux_logits=True),
    "googlenet_pad_5x5": GoogLeNetSpec(inceptions=[(8, (8, 16), (4, 8), 8)] * 9, in_channels=1, num_classes=6,
                                       input_size=41, stem_channels=(16, 16, 32), batch_norm=False, ch5x5_kernel=5,
                                       pool_mode="pad", dropout=0.0),
    "nin_custom": NiNSpec(blocks=(NiNBlockSpec(16, 5, 1, 2, (12, 8)), NiNBlockSpec(24, 3, 2, 1)), in_channels=3,
                          num_classes=4, input_size=39, pool_kernel=2, pool_stride=2, head_kernel_size=1),
    "alexnet_groups_lrn": AlexNetSpec(in_channels=1, num_classes=10, input_size=71, conv_channels=(16, 32, 48, 32, 16),
                                      conv1_kernel=7, conv1_stride=2, conv1_padding=3, hidden_sizes=(64,), lrn=True,
                                      groups=2, avgpool_size=None),
    "alexnet_plain_pool": AlexNetSpec(input_size=96, conv_channels=(16, 32, 48, 32, 16), hidden_sizes=(64, 64),
                                      overlapping_pool=False, avgpool_size=3, num_classes=7),
}


#: Presets above this size are materialised from a meta build (same builder code) instead of initialised
#: weights: torch's default init of VGG's 25088x4096 layer alone takes about a second on a 2-core CPU.
REAL_INIT_MAX_PARAMS = 100_000_000


def materialise(spec) -> nn.Module:  # noqa: ANN001
    """``build_model(spec)`` for small specs; for the largest, the meta build moved to the CPU and zero-filled."""
    if spec.planned_params() <= REAL_INIT_MAX_PARAMS:
        return build_model(spec)
    model = build_model(spec, device="meta").to_empty(device="cpu")
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.reset_running_stats()
    return model


def leaf_modules(model: nn.Module) -> dict[str, nn.Module]:
    return {name: module for name, module in model.named_modules() if not list(module.children())}


def run_with_hooks(model: nn.Module, spec) -> tuple[object, dict[str, tuple[int, ...]]]:  # noqa: ANN001
    """Forward a batch of one; returns the output and each leaf's output shape (batch dim dropped) by name."""
    shapes: dict[str, tuple[int, ...]] = {}
    handles = []
    for name, module in leaf_modules(model).items():
        def hook(module: nn.Module, args, output, name: str = name) -> None:  # noqa: ANN001
            # A layer with weights runs once; a parameterless one may be reused (torchvision's ResNet blocks
            # call one ReLU after each conv and after the add).
            # Its last call's shape is kept, as the analysis's table (one row per call) read into a dict keeps it.
            assert name not in shapes or not any(True for _ in module.parameters()), f"{name} ran twice"
            shapes[name] = tuple(output.shape[1:])
        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            output = model(torch.randn(1, spec.in_channels, spec.input_size, spec.input_size))
    finally:
        for handle in handles:
            handle.remove()
    return output, shapes


def check_against_analysis(spec, model: nn.Module, output, shapes) -> None:  # noqa: ANN001
    leaves = leaf_modules(model)
    # Every leaf module ran: no layer is defined and then skipped in forward.
    assert set(shapes) == set(leaves), f"never ran: {sorted(set(leaves) - set(shapes))}"
    logits = main_logits(output)
    assert logits.shape == (1, spec.num_classes)
    assert torch.isfinite(logits).all()
    analysis = analyze(spec)
    # Merge rows (an Inception block's concatenation) are the analysis's own; the rest are the leaves.
    analysed = {layer.name: layer.output_shape for layer in analysis.layers if layer.kind not in ("concat", "add")}
    assert list(analysed) == list(shapes)  # the same leaves, in execution order
    assert analysed == shapes  # with the same output shapes
    assert analysis.output_shape == (spec.num_classes,)
    num_params = sum(parameter.numel() for parameter in model.parameters())
    assert analysis.total_params == num_params == spec.planned_params()
    assert sum(layer.params for layer in analysis.layers) == num_params


@pytest.mark.parametrize("name", preset_names())
def test_preset_forward_matches_analysis_layer_by_layer(name: str) -> None:
    spec = load_preset(name)
    model = materialise(spec)
    # Aux heads run only in training mode; everything else is checked the way it is evaluated.
    model.train(spec.family == "googlenet" and spec.aux_logits)
    output, shapes = run_with_hooks(model, spec)
    check_against_analysis(spec, model, output, shapes)


@pytest.mark.parametrize("key", sorted(HAND_MADE))
def test_hand_made_forward_matches_analysis(key: str) -> None:
    spec = HAND_MADE[key]
    model = build_model(spec)
    model.train(isinstance(spec, GoogLeNetSpec) and spec.aux_logits)
    output, shapes = run_with_hooks(model, spec)
    check_against_analysis(spec, model, output, shapes)


def test_googlenet_aux_outputs_depend_on_mode() -> None:
    spec = HAND_MADE["googlenet_odd"]
    model = build_model(spec)
    x = torch.randn(2, spec.in_channels, spec.input_size, spec.input_size)
    with torch.no_grad():
        model.train()
        train_output = model(x)
        model.eval()
        eval_output = model(x)
    assert isinstance(train_output, GoogLeNetOutputs)
    assert [tuple(t.shape) for t in train_output] == [(2, spec.num_classes)] * 3
    assert isinstance(eval_output, torch.Tensor) and not isinstance(eval_output, tuple)
    assert eval_output.shape == (2, spec.num_classes)
    assert main_logits(train_output) is train_output.logits
    assert main_logits(eval_output) is eval_output


def test_vgg16_with_initialised_weights_gives_finite_logits() -> None:
    spec = load_preset("vgg16")
    model = build_model(spec).eval()
    assert {parameter.device.type for parameter in model.parameters()} == {"cpu"}
    assert all(parameter.abs().sum() > 0 for name, parameter in model.named_parameters() if "weight" in name)
    with torch.no_grad():
        logits = model(torch.randn(1, 3, 224, 224))
    assert logits.shape == (1, 1000) and torch.isfinite(logits).all()


def test_googlenet_aux_preset_eval_returns_a_tensor() -> None:
    spec = load_preset("googlenet_aux")
    model = build_model(spec).eval()
    with torch.no_grad():
        output = model(torch.randn(1, 3, 224, 224))
    assert isinstance(output, torch.Tensor) and output.shape == (1, 1000)


@pytest.mark.parametrize("name", preset_names())
def test_models_return_logits_not_probabilities(name: str) -> None:
    with torch.device("meta"):
        model = build_model(load_preset(name))
    softmaxes = (nn.Softmax, nn.LogSoftmax, nn.Softmax2d, nn.Softmin)
    assert not [n for n, module in model.named_modules() if isinstance(module, softmaxes)]


@pytest.mark.parametrize("key", ["vgg_small_bn", "nin_custom", "alexnet_groups_lrn"])
def test_outputs_are_not_normalised(key: str) -> None:
    spec = HAND_MADE[key]
    torch.manual_seed(0)
    model = build_model(spec).eval()
    with torch.no_grad():
        logits = model(torch.randn(4, spec.in_channels, spec.input_size, spec.input_size))
    assert not torch.allclose(logits.sum(dim=1), torch.ones(4))


def test_meta_build_allocates_no_weights() -> None:
    spec = load_preset("vgg16")
    model = build_model(spec, device="meta")
    assert {parameter.device.type for parameter in model.parameters()} == {"meta"}
    assert sum(parameter.numel() for parameter in model.parameters()) == spec.planned_params()


def test_build_model_accepts_dicts_and_json_text() -> None:
    spec = HAND_MADE["nin_custom"]
    from_dict = build_model(spec.to_dict(), device="meta")
    from_text = build_model(json.dumps(spec.to_dict()), device="meta")
    assert str(from_dict) == str(from_text) == str(build_model(spec, device="meta"))


def test_fc_as_conv_has_the_fc_versions_parameters_and_takes_larger_inputs() -> None:
    fc = VGGSpec(conv_arch=((1, 8), (1, 16)), input_size=48, hidden_sizes=(32, 32), avgpool_size=3)
    conv = fc.replace(fc_as_conv=True)
    assert conv.planned_params() == fc.planned_params()
    model = build_model(conv.replace(input_size=80)).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 80, 80)).shape == (1, 1000)


def test_alexnet_groups_halve_grouped_conv_weights() -> None:
    plain = HAND_MADE["alexnet_groups_lrn"].replace(groups=1)
    grouped = HAND_MADE["alexnet_groups_lrn"]
    model = build_model(grouped, device="meta")
    convs = [module for module in model.modules() if isinstance(module, nn.Conv2d)]
    assert [conv.groups for conv in convs] == [1, 2, 1, 2, 2]
    plain_convs = [module for module in build_model(plain, device="meta").modules() if isinstance(module, nn.Conv2d)]
    for index in (1, 3, 4):
        assert convs[index].weight.numel() * 2 == plain_convs[index].weight.numel()
    assert any(isinstance(module, nn.LocalResponseNorm) for module in model.modules())
