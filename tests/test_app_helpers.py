"""explorer.ui.app's helpers: the API tab's examples use the address the browser reached the page at (never a
header's junk), and the start-up heap is frozen out of the garbage collector's view."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from explorer.ui.app import API_HELP, EXAMPLE_ADDRESS, api_help_markdown, page_address


def request(**headers: str) -> SimpleNamespace:
    return SimpleNamespace(headers=headers, request=SimpleNamespace(url=SimpleNamespace(scheme="http")))


@pytest.mark.parametrize("headers, address", [
    (dict(host="127.0.0.1:7860"), "http://127.0.0.1:7860/"),
    (dict(host="classroom.local:8080"), "http://classroom.local:8080/"),
    (dict(host="10.0.0.5:7860", **{"x-forwarded-host": "user-cnn.hf.space", "x-forwarded-proto": "https"}),
     "https://user-cnn.hf.space/"),
    (dict(host="[::1]:7860"), "http://[::1]:7860/"),
])
def test_the_examples_name_the_pages_address(headers: dict, address: str) -> None:
    assert page_address(request(**headers)) == address
    text = api_help_markdown(request(**headers))
    assert f'Client("{address}")' in text and EXAMPLE_ADDRESS not in text.replace(address, "")


@pytest.mark.parametrize("host", ['evil.com")\nimport os', "<script>alert(1)</script>", "a b", "", "x:99999999"])
def test_a_strange_host_header_falls_back_to_the_example(host: str) -> None:
    assert page_address(request(host=host)) == EXAMPLE_ADDRESS
    assert api_help_markdown(request(host=host)) == API_HELP


def test_a_chinese_browser_gets_the_chinese_help_with_the_address() -> None:
    text = api_help_markdown(request(host="10.1.2.3:7860", **{"accept-language": "zh-CN,zh;q=0.9"}))
    assert "用程序调用" in text and 'Client("http://10.1.2.3:7860/")' in text


def test_freezing_the_startup_heap_hides_it_from_the_collector() -> None:
    import gc

    from explorer.ui.app import freeze_startup_heap

    before = [object()]  # alive at "start-up": frozen with the rest
    try:
        frozen = freeze_startup_heap()
        after = [object()]  # made later: the collector still sees it
        visible = gc.get_objects()
        assert frozen > 10_000  # torch alone holds more than that
        assert not any(item is before for item in visible) and any(item is after for item in visible)
    finally:
        gc.unfreeze()
