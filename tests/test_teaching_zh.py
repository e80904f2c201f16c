"""The Chinese explanations (*Why does it look like this?* with ``zh=True``): Chinese in every paragraph, no English
words beyond identifiers, and exactly the numbers of the English explanation of the same network."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

import pytest

from explorer import analyze, load_preset
from explorer.explain import explain
from explorer.families import FAMILIES
from explorer.presets import preset_names
from explorer.teaching import facts
from tests.chinese_text import english_lines

CJK = re.compile(r"[\u4e00-\u9fff]")
#: A number as the text writes it: 1,413,120 · 0.0001 · 96.2 (of 96.2%) · 3 and 3 (of 3x3) · 1 (of conv1).
NUMBER = re.compile(r"[0-9]+(?:[.,][0-9]+)*")
#: A token; one with a digit, an underscore or an inner dot (conv1, layer4.2, 4e, 1.41M) is an identifier.
TOKEN = re.compile(r"[A-Za-z0-9][\w.'′]*")
#: English words the Chinese explanations keep: family and library names, units, spec values, symbols of formulas.
ALLOWED = {"VGG", "GoogLeNet", "Inception", "NiN", "AlexNet", "ResNet", "PyTorch", "torchvision", "GPU", "LRN",
           "ReLU", "BN", "px", "top", "stem", "bottleneck", "groups", "kxk", "He"}
#: Letters that stand for quantities in the formulas (a, b, k, n, C, F(x), ∂y/∂x, I) and for units (1.41M).
SYMBOLS = re.compile(r"[A-Za-z][²′]?")


def _networks() -> list[tuple[str, object]]:
    """Every preset, and edits that reach the other branches of the texts."""
    found = [(name, load_preset(name)) for name in preset_names()]
    vgg = load_preset("vgg11")
    found.append(("vgg11 single convs, FC as conv",
                  replace(vgg, conv_arch=tuple((1, width) for _, width in vgg.conv_arch), fc_as_conv=True)))
    found.append(("googlenet 5x5", replace(load_preset("googlenet"), ch5x5_kernel=5)))
    found.append(("alexnet_original without groups or LRN", replace(load_preset("alexnet_original"), groups=1,
                                                                    lrn=False, overlapping_pool=False)))
    return found


NETWORKS = _networks()


@pytest.fixture(scope="module", params=NETWORKS, ids=[name for name, _ in NETWORKS])
def texts(request) -> tuple[str, str]:  # noqa: ANN001
    """(English, Chinese) explanation of one network."""
    spec = request.param[1]
    analysis = analyze(spec)
    return explain(spec, analysis), explain(spec, analysis, zh=True)


def _english_words(text: str) -> list[str]:
    code_free = re.sub(r"`[^`]*`", " ", text)
    return [token for token in TOKEN.findall(code_free) if not re.search(r"[0-9_]|\w\.\w", token)
            and token not in ALLOWED and not SYMBOLS.fullmatch(token)]


def test_every_paragraph_and_line_is_chinese(texts: tuple[str, str]):
    _, chinese = texts
    for paragraph in re.split(r"\n\s*\n", chinese):
        assert CJK.search(paragraph), paragraph
    previous = ""
    for line in chinese.splitlines():
        in_table_body = line.startswith("|") and previous.startswith("|")  # a table's header row is Chinese
        assert not line.strip() or in_table_body or CJK.search(line), line
        previous = line


def test_no_english_words_beyond_identifiers(texts: tuple[str, str]):
    _, chinese = texts
    assert not _english_words(chinese), _english_words(chinese)
    # The rule the zh-CN page is checked with (tests/test_chinese.py), on the text as the page shows it.
    shown = chinese.replace("**", " ").replace("|", " ")
    assert not english_lines(shown), english_lines(shown)


def test_the_same_numbers_as_the_english_text(texts: tuple[str, str]):
    english, chinese = texts
    assert CJK.search(chinese) and not CJK.search(english)
    assert Counter(NUMBER.findall(chinese)) == Counter(NUMBER.findall(english))


def test_the_lrn_formulas_name_both_forms_and_the_mapping():
    spec = load_preset("alexnet_original")
    chinese = explain(spec, analyze(spec), zh=True)
    torch_alpha = facts.lrn_pytorch_alpha(spec.lrn_alpha, spec.lrn_size)
    assert facts.lrn_formulas(spec.lrn_size, spec.lrn_alpha, spec.lrn_beta, spec.lrn_k, zh=True) in chinese
    assert "论文中写作 b = a / (k + α·Σ a²)^β" in chinese
    assert "`nn.LocalResponseNorm` 计算 b = a / (k + α′/n·Σ a²)^β" in chinese
    assert f"α′ = α·n = {spec.lrn_alpha:g}·{spec.lrn_size} = {torch_alpha:g}" in chinese


def test_ratio_zh_carries_the_number_of_times():
    assert facts.times(1, 20.9) == "20.9x fewer" and facts.ratio_zh(1, 20.9) == "后者是前者的 20.9 倍"
    assert facts.times(13, 10) == "1.3x more" and facts.ratio_zh(13, 10) == "前者是后者的 1.3 倍"
    assert facts.ratio_zh(4, 4) == "两者相同" and facts.ratio_zh(0, 4) == "无法比较"


def test_a_family_without_teaching_module_gets_the_shared_sections_in_chinese(monkeypatch):
    from dataclasses import replace as replace_field

    family = FAMILIES["vgg"]
    monkeypatch.setitem(FAMILIES, "vgg", replace_field(family, teaching="explorer.teaching.not_written_yet"))
    spec = load_preset("vgg11")
    analysis = analyze(spec)
    english, chinese = explain(spec, analysis), explain(spec, analysis, zh=True)
    assert "### 参数在哪里" in chinese and "### 感受野" in chinese and "堆叠" not in chinese
    assert Counter(NUMBER.findall(chinese)) == Counter(NUMBER.findall(english))
