"""The Chinese page: every label wrapped in tr() has a translation, and a zh-CN browser sees no stray English.

The browser test visits every tab (and every family on Explore, every lesson) and fails on any visible line with
an English word that is neither an identifier (``tests.chinese_text.ALLOWED_WORDS``, layer names, numbers with units) nor listed
in :data:`KNOWN_ENGLISH`: text computed by modules other helpers are still translating. Shrink that list as they
are translated; a new English string makes the test fail.
"""
from __future__ import annotations

import re

import pytest

from tests.chinese_text import english_lines

#: Texts wrapped in tr() that need no translation: identifiers, formats, units.
IDENTIFIER_ONLY = re.compile(r"^[\w\s.,:;()\[\]/+\-=<>·αβ→%]*$")
IDENTIFIER_WORDS = {"API", "GPU", "LRN", "ONNX", "onnx", "MACs", "Grad", "CAM", "n", "k"}


def _is_identifier_only(text: str) -> bool:
    words = re.findall(r"[A-Za-z]+", text)
    return bool(IDENTIFIER_ONLY.match(text)) and all(word in IDENTIFIER_WORDS for word in words)


def test_every_label_has_a_chinese_translation(monkeypatch):
    monkeypatch.setenv("EXPLORER_ADMIN_PASSWORD", "secret")  # the Teacher tab's labels too
    from explorer.ui import i18n
    from explorer.ui.app import build_app

    demo = build_app()
    try:
        missing = sorted({text for text in i18n._KEYS.values() if text not in i18n.ZH and not _is_identifier_only(text)})
    finally:
        demo.close()
    assert not missing, f"add these to ZH in explorer/ui/i18n.py: {missing}"


def test_translations_keep_identifiers():
    """A translation keeps the code-like parts (``conv_arch``, ``ch1x1`` ...) of its English text."""
    from explorer.ui.i18n import ZH

    for english, chinese in ZH.items():
        for token in re.findall(r"`[^`]+`|\b\w*_\w+\b", english):
            assert token in chinese, (english, token)


def test_lessons_have_chinese_text():
    """Every lesson's title, steps, description, questions and answers are Chinese when asked for."""
    from explorer.analysis import analyze
    from explorer.lessons import LESSONS, answers_markdown
    from explorer.presets import get_preset
    from explorer.ui.lessons_panel import chinese_label

    for lesson in LESSONS:
        assert lesson.title_zh and lesson.steps_zh
        assert set(re.findall(r"\{\w+\}", lesson.steps_zh)) == set(re.findall(r"\{\w+\}", lesson.steps))
        spec = get_preset(lesson.preset).spec
        analysis = analyze(spec)
        questions = lesson.questions(spec, analysis, zh=True)
        text = (lesson.render(spec, analysis, questions=questions, translate=chinese_label, zh=True)
                + lesson.walkthrough_in(chinese_label, zh=True) + answers_markdown(questions, zh=True))
        english = [line for line in english_lines(text.replace("**", " "))]
        assert not english, (lesson.id, english)


def test_presets_have_chinese_descriptions():
    from explorer.presets import list_presets
    from explorer.ui.i18n import ZH

    for preset in list_presets():
        assert re.search(r"[\u4e00-\u9fff]", preset.description_zh), preset.name
        assert ZH[preset.label()] == preset.label(zh=True)


# --- the browser ---------------------------------------------------------------------------------------------------
#: Visible English the Chinese page shows on purpose (prefixes of the lines): code, and names a program prints.
KNOWN_ENGLISH = (
    # explorer/ui/app.py API_HELP_ZH: the gradio_client example is Python code
    "from gradio_client import", "client = Client", "result = client.predict", "print(", "spec = '",
    # explorer/ui/gpu_panel.py: "What do these columns mean?" (nvidia-smi's column names, as it prints them)
    "Name: ", "Fan: ", "Temp: ", "Perf: ", "Persistence-M", "Pwr:", "Bus-Id", "Disp.A",
    "Memory-Usage", "GPU-Util", "Mem-Util", "Uncorr. ECC", "Compute M.", "Processes: ",
)
#: Text the block diagram shows once a family's network is rendered.
DIAGRAM_MARK = {"GoogLeNet": "inception 3a", "NiN": "nin 1", "AlexNet": "conv 1", "ResNet": "layer1.0", "VGG": "块 5"}
#: Known English lines whose start varies with the numbers (none left: add a pattern only with its reason).
KNOWN_ENGLISH_PATTERNS: tuple[re.Pattern[str], ...] = ()
def _unexpected(text: str) -> list[str]:
    return [line for line in english_lines(text) if not line.startswith(KNOWN_ENGLISH)
            and not any(pattern.match(line) for pattern in KNOWN_ENGLISH_PATTERNS)]


@pytest.fixture(scope="module")
def chinese_page():
    pytest.importorskip("playwright")
    from playwright.sync_api import sync_playwright

    from tests.browser import chromium_path, launch_browser, start_app

    try:
        chromium_path()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    demo, url = start_app()
    try:
        with sync_playwright() as playwright:
            browser = launch_browser(playwright)
            context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 1400},
                                          extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9"})
            page = context.new_page()
            page.goto(url)
            yield page
            context.close()
            browser.close()
    finally:
        demo.close()


def _tab(page, tab_id: str) -> None:  # noqa: ANN001
    page.locator(f"button[role=tab][data-tab-id={tab_id}]").click()


def _open_accordions(page) -> None:  # noqa: ANN001
    page.evaluate("() => document.querySelectorAll('button.label-wrap:not(.open)')"
                  ".forEach(button => { if (button.offsetParent) button.click(); })")


def _visible_text(page) -> str:  # noqa: ANN001
    return page.evaluate("() => document.body.innerText")


def test_the_chinese_page_shows_no_stray_english(chinese_page):
    from playwright.sync_api import expect

    page = chinese_page
    expect(page.locator("button[role=tab][data-tab-id=explore]")).to_have_text("探索", timeout=30_000)
    expect(page.locator("#headline")).to_contain_text("138,357,544", timeout=15_000)
    seen: dict[str, str] = {}

    def collect(where: str) -> None:
        for line in _unexpected(_visible_text(page)):
            seen.setdefault(line, where)

    for family in ("GoogLeNet", "NiN", "AlexNet", "ResNet", "VGG"):
        page.locator("#family").get_by_text(family, exact=True).first.click()
        expect(page.locator("#diagram")).to_contain_text(DIAGRAM_MARK[family], timeout=15_000)
        _open_accordions(page)
        page.wait_for_timeout(500)
        collect(f"explore/{family}")
    page.locator("#pin").click()
    for tab_id in ("compare", "train", "inspect", "runs", "api"):
        _tab(page, tab_id)
        page.wait_for_timeout(1_200)
        _open_accordions(page)
        collect(tab_id)
    _tab(page, "lessons")
    lessons = page.locator("#lesson-picker label")
    expect(lessons.first).to_be_visible(timeout=10_000)
    for index in range(lessons.count()):
        lessons.nth(index).click()
        page.locator("#lesson-load").click()
        expect(page.locator("#lesson-status")).to_contain_text("已把", timeout=15_000)
        checkbox = page.locator("#lesson-show-answers input")
        if not checkbox.is_checked():
            checkbox.check()
        expect(page.locator("#lesson-answers")).to_contain_text("答案", timeout=10_000)
        collect(f"lesson {index + 1}")
    assert "载入这个网络" in page.locator("#lesson-walkthrough").inner_text()
    assert not seen, "English on the Chinese page (translate it, or list it in KNOWN_ENGLISH with its file):\n" + \
        "\n".join(f"[{where}] {line[:160]}" for line, where in seen.items())
