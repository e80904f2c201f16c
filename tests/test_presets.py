"""Presets: every file loads into a validated spec, cites a source and matches its reference."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torchvision

from explorer import get_preset, list_presets, load_preset, preset_names, resolve_spec
from explorer.presets import PRESETS_DIR
from explorer.specs import InceptionSpec, SpecError, parse_spec

PRESET_FILES = sorted(PRESETS_DIR.glob("*.json"))


def test_presets_dir_is_the_repository_folder() -> None:
    assert PRESETS_DIR == Path(__file__).resolve().parent.parent / "presets"
    assert len(PRESET_FILES) >= 18


@pytest.mark.parametrize("path", PRESET_FILES, ids=lambda path: path.stem)
def test_preset_file_is_well_formed(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert set(data) == {"name", "description", "description_zh", "source", "spec"}
    assert data["name"] == path.stem
    for key in ("description", "description_zh", "source"):
        text = data[key]
        assert isinstance(text, str) and text.strip() == text and len(text) >= 10
        assert "\n" not in text
    spec = parse_spec(data["spec"])
    preset = get_preset(path.stem)
    assert preset.spec == spec == load_preset(path.stem)
    assert (preset.description, preset.source) == (data["description"], data["source"])
    assert preset.description_zh == data["description_zh"] and preset.label(zh=True).endswith(data["description_zh"])


def test_list_presets_covers_every_file_sorted() -> None:
    names = [preset.name for preset in list_presets()]
    assert names == sorted(path.stem for path in PRESET_FILES) == preset_names()
    expected = {"vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn", "googlenet",
                "googlenet_aux", "alexnet", "alexnet_original", "d2l_vgg11", "d2l_vgg11_small", "d2l_nin",
                "nin_cifar", "d2l_googlenet", "d2l_alexnet"}
    assert expected <= set(names)


@pytest.mark.parametrize("name", ["googlenet", "googlenet_aux", "d2l_googlenet"])
def test_inception_4e_is_the_papers_not_the_typo(name: str) -> None:
    spec = load_preset(name)
    block_4e = spec.inceptions[6]
    assert block_4e.as_tuple() == (256, 160, 320, 32, 128, 128)
    assert spec.inception_in_channels()[6] == 528


def test_googlenet_preset_matches_torchvisions_inception_modules() -> None:
    model = torchvision.models.googlenet(aux_logits=False, init_weights=False, weights=None)
    names = ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")
    for name, block in zip(names, load_preset("googlenet").inceptions):
        inception = getattr(model, f"inception{name}")
        expected = InceptionSpec(
            ch1x1=inception.branch1.conv.out_channels,
            ch3x3red=inception.branch2[0].conv.out_channels, ch3x3=inception.branch2[1].conv.out_channels,
            ch5x5red=inception.branch3[0].conv.out_channels, ch5x5=inception.branch3[1].conv.out_channels,
            pool_proj=inception.branch4[1].conv.out_channels)
        assert block == expected, name


@pytest.mark.parametrize("name, cfg", [("vgg11", "A"), ("vgg13", "B"), ("vgg16", "D"), ("vgg19", "E")])
def test_vgg_presets_match_torchvisions_cfgs(name: str, cfg: str) -> None:
    conv_arch, count = [], 0
    for item in torchvision.models.vgg.cfgs[cfg]:
        if item == "M":
            conv_arch.append((count, width))
            count = 0
        else:
            count, width = count + 1, item
    for preset in (name, f"{name}_bn"):
        spec = load_preset(preset)
        assert spec.conv_arch == tuple(conv_arch)
        assert spec.batch_norm == preset.endswith("_bn")


def test_d2l_presets_use_the_books_settings() -> None:
    small = load_preset("d2l_vgg11_small")
    assert small.ratio == 4 and small.block_channels == (16, 32, 64, 128, 128)
    assert small.conv_arch == load_preset("d2l_vgg11").conv_arch == ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))
    for name in ("d2l_vgg11", "d2l_vgg11_small", "d2l_nin", "d2l_alexnet", "d2l_googlenet"):
        spec = load_preset(name)
        assert (spec.in_channels, spec.num_classes) == (1, 10), name
    assert load_preset("d2l_googlenet").input_size == 96


@pytest.mark.parametrize("name", ["../etc/passwd", "../presets/vgg16", "/etc/passwd", "vgg16.json", "VGG16",
                                  "vgg16 ", "", "nope", "vgg" * 30, None, 16])
def test_bad_preset_names_raise_spec_error(name) -> None:  # noqa: ANN001
    with pytest.raises(SpecError) as info:
        load_preset(name)
    assert info.value.field == "preset"
    assert "vgg16" in info.value.message  # it lists the names that exist


def test_resolve_spec_takes_a_name_or_json_text() -> None:
    assert resolve_spec("vgg16") == load_preset("vgg16")
    assert resolve_spec(" nin_cifar ") == load_preset("nin_cifar")
    text = json.dumps(load_preset("d2l_nin").to_dict())
    assert resolve_spec(text) == load_preset("d2l_nin")
    with pytest.raises(SpecError):
        resolve_spec("{not json")
