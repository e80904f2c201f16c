"""ResNet, the fifth family: checked against torchvision's resnet18/34/50, a re-implementation of d2l's ResNet-18,
forward hooks and an independent receptive-field recurrence."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from explorer import SpecError, analyze, build_model, load_preset, parse_spec
from explorer.families import family_of
from explorer.models.resnet import ResNet
from explorer.presets import get_preset
from explorer.specs.resnet import ResNetSpec, StageSpec, format_stages, parse_stages

PRESETS_DIR = Path(__file__).resolve().parent.parent / "presets"
RESNET_PRESETS = ("resnet18", "resnet34", "resnet50", "d2l_resnet18")
# torchvision's published parameter counts and torchinfo's mult-adds (meta device, 1x3x224x224), REFERENCE.md.
TORCHVISION = {
    "resnet18": (torchvision.models.resnet18, 11_689_512, 1_814_083_944),
    "resnet34": (torchvision.models.resnet34, 21_797_672, 3_663_779_432),
    "resnet50": (torchvision.models.resnet50, 25_557_032, 4_089_238_376),
}
VARIANTS = [  # spec changes covering both blocks, BN on/off, both styles, custom strides
    pytest.param({}, id="resnet18"),
    pytest.param(dict(block="bottleneck", stages=((1, 16), (2, 32))), id="bottleneck"),
    pytest.param(dict(batch_norm=False, stages=((1, 8), (1, 16), (1, 16, 1))), id="no-bn"),
    pytest.param(dict(style="d2l", stages=((2, 8), (1, 16, 1), (1, 32, 3))), id="d2l-strides"),
    pytest.param(dict(style="d2l", block="bottleneck", batch_norm=False, stem_channels=16,
                      stages=((1, 4), (1, 8))), id="d2l-bottleneck-no-bn"),
]


def small(changes: dict[str, Any]) -> ResNetSpec:
    return ResNetSpec(**{"input_size": 64, **changes})


# --- torchvision -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_weights_load_and_give_the_same_logits(name: str) -> None:
    factory, published_params, _ = TORCHVISION[name]
    torch.manual_seed(0)
    reference = factory(weights=None).eval()
    model = build_model(load_preset(name)).eval()
    assert [key for key, _ in model.state_dict().items()] == list(reference.state_dict())
    model.load_state_dict(reference.state_dict(), strict=True)
    # Same module tree; ours adds only a parameterless Flatten for torchvision's torch.flatten(x, 1).
    ours = {path: type(module).__name__ for path, module in model.named_modules()}
    theirs = {path: type(module).__name__ for path, module in reference.named_modules()}
    assert ours.pop("flatten") == "Flatten" and ours.pop("") == "ResNet" and theirs.pop("") == "ResNet"
    assert ours == theirs
    assert sum(p.numel() for p in model.parameters()) == published_params
    x = torch.randn(2, 3, 112, 112)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", TORCHVISION)
def test_presets_match_torchvision_params_and_macs(name: str) -> None:
    _, published_params, torchinfo_macs = TORCHVISION[name]
    spec = load_preset(name)
    analysis = analyze(spec)
    assert analysis.total_params == spec.planned_params() == published_params
    assert abs(analysis.total_macs - torchinfo_macs) <= 0.01 * torchinfo_macs
    assert abs(sum(layer.macs for layer in spec.planned_layers()) - torchinfo_macs) <= 0.01 * torchinfo_macs
    assert analysis.output_shape == (1000,)


# --- d2l ----------------------------------------------------------------------------------------------------------

class D2LResidual(nn.Module):
    """d2l 8.6's ``Residual`` (with explicit input channels instead of LazyConv2d)."""

    def __init__(self, in_channels: int, num_channels: int, use_1x1conv: bool = False, strides: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, num_channels, kernel_size=3, padding=1, stride=strides)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
        self.conv3 = nn.Conv2d(in_channels, num_channels, kernel_size=1, stride=strides) if use_1x1conv else None
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.bn2 = nn.BatchNorm2d(num_channels)

    def forward(self, X: torch.Tensor) -> torch.Tensor:  # noqa: N803 - d2l's names
        Y = F.relu(self.bn1(self.conv1(X)))  # noqa: N806
        Y = self.bn2(self.conv2(Y))  # noqa: N806
        if self.conv3:
            X = self.conv3(X)  # noqa: N806
        Y += X  # noqa: N806
        return F.relu(Y)


def d2l_resnet18(in_channels: int = 1, num_classes: int = 10) -> nn.Sequential:
    """d2l's ``b1`` and ``block`` / ``resnet_block`` code: ``((2, 64), (2, 128), (2, 256), (2, 512))``."""
    def resnet_block(in_channels: int, num_channels: int, num_residuals: int, first_block: bool = False) -> nn.Module:
        blk = []
        for i in range(num_residuals):
            if i == 0 and not first_block:
                blk.append(D2LResidual(in_channels, num_channels, use_1x1conv=True, strides=2))
            else:
                blk.append(D2LResidual(num_channels, num_channels))
        return nn.Sequential(*blk)

    b1 = nn.Sequential(nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3), nn.BatchNorm2d(64),
                       nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    stages = [resnet_block(64, 64, 2, first_block=True), resnet_block(64, 128, 2), resnet_block(128, 256, 2),
              resnet_block(256, 512, 2)]
    return nn.Sequential(b1, *stages, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(512, num_classes))


STEM_NAMES = {"0": "conv1", "1": "bn1"}


def d2l_to_ours(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """d2l's keys in our (torchvision's) names: ``0.0`` -> ``conv1``, ``2.1.conv3`` -> ``layer2.1.downsample.0``."""
    renamed = {}
    for key, value in state.items():
        first, rest = key.split(".", 1)
        index = int(first)
        if index == 0:
            module, tensor = rest.split(".", 1)
            renamed[f"{STEM_NAMES[module]}.{tensor}"] = value
        elif index <= 4:
            renamed[f"layer{index}.{rest.replace('conv3', 'downsample.0')}"] = value
        else:  # the Linear layer (index 7)
            renamed[f"fc.{rest}"] = value
    return renamed


def test_d2l_resnet18_matches_the_book_code() -> None:
    torch.manual_seed(0)
    reference = d2l_resnet18().eval()
    spec = load_preset("d2l_resnet18")
    model = build_model(spec).eval()
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in reference.parameters()) \
        == spec.planned_params() == analyze(spec).total_params
    model.load_state_dict(d2l_to_ours(reference.state_dict()), strict=True)
    x = torch.randn(2, 1, 96, 96)
    shapes: list[tuple[int, ...]] = []
    handles = [module.register_forward_hook(lambda _m, _i, out: shapes.append(tuple(out.shape[1:])))
               for module in reference]
    with torch.no_grad():
        expected = reference(x)
        torch.testing.assert_close(model(x), expected, rtol=1e-4, atol=1e-4)
    for handle in handles:
        handle.remove()
    # The book's printout (REFERENCE.md): stem 64x24x24, stages 64x24x24, 128x12x12, 256x6x6, 512x3x3, 512, 10.
    assert shapes == [(64, 24, 24), (64, 24, 24), (128, 12, 12), (256, 6, 6), (512, 3, 3), (512, 1, 1), (512,),
                      (10,)]
    analysis = analyze(spec)
    stage_ends = ["stem", "layer1.1", "layer2.1", "layer3.1", "layer4.1"]
    assert [analysis.block(name).output_shape for name in stage_ends] == shapes[:5]
    assert analysis.output_shape == (10,)


def test_d2l_style_puts_biases_on_convs_and_no_bn_in_the_shortcut() -> None:
    d2l, tv = load_preset("d2l_resnet18"), load_preset("resnet18")
    d2l_model, tv_model = build_model(d2l), build_model(tv)
    assert all(m.bias is not None for m in d2l_model.modules() if isinstance(m, nn.Conv2d))
    assert all(m.bias is None for m in tv_model.modules() if isinstance(m, nn.Conv2d))
    assert [type(m).__name__ for m in d2l_model.layer2[0].downsample] == ["Conv2d"]
    assert [type(m).__name__ for m in tv_model.layer2[0].downsample] == ["Conv2d", "BatchNorm2d"]


# --- the model against real forward passes -------------------------------------------------------------------------

@pytest.mark.parametrize("changes", VARIANTS)
def test_every_leaf_runs_and_plan_equals_model(changes: dict[str, Any]) -> None:
    spec = small(changes)
    model = build_model(spec).eval()
    leaves = {name: module for name, module in model.named_modules() if not list(module.children())}
    ran: set[str] = set()
    handles = [module.register_forward_hook(lambda _m, _i, _o, name=name: ran.add(name))
               for name, module in leaves.items()]
    with torch.no_grad():
        out = model(torch.randn(2, spec.in_channels, spec.input_size, spec.input_size))
    for handle in handles:
        handle.remove()
    assert ran == set(leaves)
    assert out.shape == (2, spec.num_classes)
    assert sum(p.numel() for p in model.parameters()) == spec.planned_params()
    if not spec.batch_norm:
        assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


@pytest.mark.parametrize("changes", VARIANTS)
def test_block_shapes_equal_a_real_forward_pass(changes: dict[str, Any]) -> None:
    spec = small(changes)
    model = build_model(spec).eval()
    modules = dict(model.named_modules())
    analysis = analyze(spec)
    seen: dict[str, tuple[int, ...]] = {}

    def remember(name: str) -> Any:
        def hook(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
            seen.setdefault(name, tuple(output.shape[1:]))
        return hook

    handles = [modules[block.modules[-1]].register_forward_hook(remember(block.name)) for block in analysis.blocks]
    with torch.no_grad():
        model(torch.randn(1, spec.in_channels, spec.input_size, spec.input_size))
    for handle in handles:
        handle.remove()
    assert {block.name: block.output_shape for block in analysis.blocks} == seen
    residual = [block for block in analysis.blocks if block.kind == "residual"]
    assert [block.name for block in residual] == [name for name, *_ in spec.block_plan()]
    for block, (_, _, out_channels, stride, projection) in zip(residual, spec.block_plan()):
        assert block.merge == "add" and [branch.name for branch in block.branches] == ["main", "shortcut"]
        main, shortcut = block.branches
        assert main.output_shape == shortcut.output_shape == block.output_shape
        assert block.output_shape[0] == out_channels
        assert block.output_shape[1] == (block.input_shape[1] - 1) // stride + 1
        assert (shortcut.params > 0) == projection == (modules[block.name].downsample is not None)
        assert main.params + shortcut.params == block.params \
            == sum(p.numel() for p in modules[block.name].parameters())


def expected_fields(spec: ResNetSpec) -> dict[str, tuple[int, int]]:
    """(receptive field, effective stride) after the stem and after each block, by the textbook recurrence
    ``rf += (k - 1) * jump; jump *= stride`` over the main path (the longest path through each block)."""
    rf, jump = 1, 1

    def layer(kernel: int, stride: int) -> None:
        nonlocal rf, jump
        rf, jump = rf + (kernel - 1) * jump, jump * stride

    layer(7, 2)  # stem conv
    layer(3, 2)  # stem max-pool
    fields = {"stem": (rf, jump)}
    for stage_index, stage in enumerate(spec.stages, 1):
        for block_index in range(stage.blocks):
            stride = stage.stride if block_index == 0 else 1
            kernels = ((3, stride), (3, 1)) if spec.block == "basic" else ((1, 1), (3, stride), (1, 1))
            for kernel, step in kernels:
                layer(kernel, step)
            fields[f"layer{stage_index}.{block_index}"] = (rf, jump)
    return fields


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "custom-strides"])
def test_receptive_fields_follow_the_recurrence(name: str) -> None:
    spec = small(VARIANTS[3].values[0]) if name == "custom-strides" else load_preset(name)
    analysis = analyze(spec)
    expected = expected_fields(spec)
    measured = {block.name: (block.receptive_field, block.effective_stride) for block in analysis.blocks
                if block.name in expected}
    assert measured == expected
    assert analysis.feature_receptive_field == expected[spec.block_plan()[-1][0]][0]
    for block in analysis.blocks:
        if block.kind == "residual":
            main, shortcut = block.branches
            # The shortcut sees less than the main path: the block input's field (a 1x1 conv adds nothing).
            assert shortcut.receptive_field < main.receptive_field == block.receptive_field


# --- the spec ----------------------------------------------------------------------------------------------------

def test_stage_forms_and_round_trips() -> None:
    text = ResNetSpec(stages="((2, 64), (2, 128, 1), (1, 256))")
    assert text.stages == (StageSpec(2, 64, 1), StageSpec(2, 128, 1), StageSpec(1, 256, 2))
    assert parse_stages(format_stages(text.stages)) == text.stages
    mapped = ResNetSpec(stages=[{"blocks": 2, "channels": 64}, {"blocks": 1, "channels": 32, "stride": 3}])
    assert mapped.stages == (StageSpec(2, 64, 1), StageSpec(1, 32, 3))
    for name in RESNET_PRESETS:
        spec = load_preset(name)
        assert parse_spec(json.loads(json.dumps(spec.to_dict()))) == spec
        preset = get_preset(name)
        assert preset.description and preset.source
        data = json.loads((PRESETS_DIR / f"{name}.json").read_text(encoding="utf-8"))
        assert data["name"] == name and data["spec"]["family"] == "resnet"
    assert "8.6" in get_preset("d2l_resnet18").source and "torchvision" in get_preset("resnet50").source


def test_registry_entry() -> None:
    family = family_of("resnet")
    assert family.spec_class is ResNetSpec and family.label == "ResNet" and family.model_class() is ResNet
    assert isinstance(load_preset(family.default_preset), ResNetSpec)
    assert family.editor_definition().family == "resnet"
    assert callable(family.teaching_module().explain)


@pytest.mark.parametrize(("changes", "field"), [
    (dict(stages=((2, 64), (2, 128), (2,))), "stages[2]"),
    (dict(stages=((2, 64), (2, 0))), "stages[1].channels"),
    (dict(stages=((0, 64),)), "stages[0].blocks"),
    (dict(stages=((2, 64, 5),)), "stages[0].stride"),
    (dict(stages=((2, 64, 1.5),)), "stages[0].stride"),
    (dict(stages=((True, 64),)), "stages[0].blocks"),
    (dict(stages=[{"blocks": 2, "width": 64}]), "stages[0].width"),
    (dict(stages=[{"blocks": 2}]), "stages[0]"),
    (dict(stages=()), "stages"),
    (dict(stages="((2, 64), (2, 128)"), "stages"),
    (dict(stages="__import__('os').system('true')"), "stages"),
    (dict(stages=((1, 64),) * 9), "stages"),
    (dict(stages=((2, 64), (2, 5000)), block="bottleneck"), "stages[1].channels"),
    (dict(block="wide"), "block"),
    (dict(style="keras"), "style"),
    (dict(batch_norm="yes"), "batch_norm"),
    (dict(stem_channels=0), "stem_channels"),
    (dict(input_size=0), "input_size"),
])
def test_bad_specs_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError) as info:
        ResNetSpec(**changes)
    assert info.value.field == field, info.value


def test_unknown_key_in_a_json_spec_names_it() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec({"family": "resnet", "layers": [2, 2, 2, 2]})
    assert info.value.field == "layers"


def test_any_input_size_works() -> None:
    """Global pooling: every size from 1 px runs (the stem's padding keeps at least one pixel)."""
    spec = load_preset("d2l_resnet18")
    assert spec.accepts_any_input_size
    model = build_model(spec.replace(stages=((1, 8), (1, 8)), stem_channels=8)).eval()
    for size in (1, 7, 33):
        with torch.no_grad():
            assert model(torch.randn(1, 1, size, size)).shape == (1, 10)
        assert analyze(spec.replace(input_size=size)).output_shape == (10,)


# --- training ----------------------------------------------------------------------------------------------------

def test_short_training_run(tmp_path: Path) -> None:
    from explorer.training import DoneEvent, EpochEvent, TrainConfig, train

    spec = load_preset("d2l_resnet18").replace(input_size=32, stem_channels=16, stages=((1, 16), (1, 32)))
    config = TrainConfig(dataset="shapes", epochs=3, batch_size=32, train_subset=96, test_subset=64,
                         optimizer="adam", lr=1e-3, device="cpu", log_every=1, checkpoint_dir=str(tmp_path),
                         num_samples=2)
    events = list(train(spec, config))
    done = events[-1]
    assert isinstance(done, DoneEvent), done
    losses = [event.train_loss for event in events if isinstance(event, EpochEvent)]
    assert len(losses) == 3 and all(math.isfinite(loss) for loss in losses)
    assert losses[-1] < losses[0], losses
    assert Path(done.checkpoint_path).is_file()


# --- the editor and the teaching module -------------------------------------------------------------------------

def test_editor_table_round_trip_derived_columns_and_errors() -> None:
    from explorer.ui.convert import spec_from_values, values_from_spec
    from explorer.ui.editors.resnet import EDITOR, HEADERS

    spec = load_preset("resnet50")
    values = values_from_spec(spec)
    table = values[EDITOR.key("stages")]
    assert len(table[0]) == len(HEADERS)
    # Derived columns: torchvision's module names; in = the previous out (the stem's 64 first), out = 4 x channels.
    reference = torchvision.models.resnet50(weights=None)
    for row in table:
        layer = getattr(reference, row[0])
        assert row[1] == layer[0].conv1.in_channels and row[2] == layer[-1].conv3.out_channels
    assert spec_from_values("resnet", values) == spec
    edited = [*table, ["", None, None, 1, 32, None]]  # an added stage, stride left blank
    changed = spec_from_values("resnet", {**values, EDITOR.key("stages"): edited})
    assert changed.stages[-1] == StageSpec(1, 32, 2)  # a blank stride: 2 after the first stage
    blank = spec_from_values("resnet", {**values, EDITOR.key("stages"): [*table, ["", None, None, None, None, None]]})
    assert blank == spec
    bad = [list(row) for row in table]
    bad[2][4] = "wide"
    with pytest.raises(SpecError) as info:
        spec_from_values("resnet", {**values, EDITOR.key("stages"): bad})
    assert info.value.field == "stages[2].channels"


def test_explanation_counts_the_shortcuts_of_torchvisions_resnet50() -> None:
    from explorer.teaching.resnet import LESSONS, explain

    spec = load_preset("resnet50")
    analysis = analyze(spec)
    reference = torchvision.models.resnet50(weights=None)
    projections = [module for name, module in reference.named_modules() if name.endswith("downsample")]
    projection_params = sum(p.numel() for module in projections for p in module.parameters())
    text = explain(spec, analysis)
    assert f"{len(projections)} projections holding **{projection_params:,}** parameters" in text
    blocks = [module for name, module in reference.named_modules() if type(module).__name__ == "Bottleneck"]
    assert f"{len(blocks) - len(projections)} identity shortcuts" in text
    # Longest path: every conv outside the shortcuts, plus fc (50); shortest: stem conv + projections + fc.
    convs = [name for name, module in reference.named_modules() if isinstance(module, nn.Conv2d)]
    longest = sum(1 for name in convs if "downsample" not in name) + 1
    assert longest == 50 and f"**{longest}** weighted layers" in text
    assert f"only **{1 + len(projections) + 1}**" in text
    questions = LESSONS[0].questions(spec, analysis)
    outside_blocks = sum(p.numel() for module in (reference.conv1, reference.bn1, reference.fc)
                         for p in module.parameters())
    main_paths = sum(p.numel() for p in reference.parameters()) - projection_params - outside_blocks
    assert questions[0].answer == f"{projection_params:,} vs {main_paths:,}"
