"""The app served in-process and called through gradio_client, as a script or notebook would."""
from __future__ import annotations

import json

import pytest
from gradio_client import Client

from tests.browser import start_app


@pytest.fixture(scope="module")
def client():
    demo, url = start_app()
    yield Client(url, verbose=False, analytics_enabled=False)
    demo.close()


def test_analyze_endpoint_by_preset_and_json(client):
    result = client.predict("googlenet", api_name="/analyze")
    assert result["analysis"]["total_params"] == 6_624_904
    spec = {"family": "vgg", "conv_arch": [[1, 16], [1, 32]], "input_size": 28, "in_channels": 1,
            "num_classes": 10, "hidden_sizes": [64]}
    result = client.predict(json.dumps(spec), api_name="/analyze")
    assert result["spec"]["conv_arch"] == [[1, 16], [1, 32]]
    assert result["analysis"]["output_shape"] == [10]


@pytest.mark.parametrize("bad, expected", [
    ('{"family": "vgg", "conv_arch": "((1, 64), (2,))"}', "conv_arch[1]"),
    ("{not json", "not valid JSON"),
    ("lenet5", "no preset named"),
    ('{"family": "vgg", "conv_arch": [[1, 64]], "input_size": 0}', "input_size"),
])
def test_bad_input_gives_a_clean_message(client, bad, expected):
    with pytest.raises(Exception) as info:
        client.predict(bad, api_name="/analyze")
    assert expected in str(info.value)
    assert "Traceback" not in str(info.value)
    # the server keeps serving
    assert client.predict("alexnet", api_name="/analyze")["analysis"]["total_params"] == 61_100_840


def test_only_analyze_is_public(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert "/analyze" in endpoints
    assert all(not name.startswith("/on_") for name in endpoints), list(endpoints)
