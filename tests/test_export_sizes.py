"""estimate_export_bytes: what the UI states before an export, checked against real exports' sizes."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch

from explorer import build_model, load_preset
from explorer.export import ESTIMATE_KINDS, EXPORT_KINDS, estimate_export_bytes, export_notes, write_export
from explorer.specs import GoogLeNetSpec

SMALL = {
    "nin_tiny": lambda: load_preset("nin_cifar").replace(
        blocks=[[16, 3, 1, 1, [16]]], input_size=16, num_classes=5),
    "vgg_bn": lambda: load_preset("vgg11_bn").replace(ratio=16, hidden_sizes=(64,), input_size=64),
    "googlenet_aux": lambda: GoogLeNetSpec(inceptions=[(8, 4, 8, 2, 4, 4)] * 9, stem_channels=(8, 8, 16),
                                           input_size=64, num_classes=5, aux_logits=True),
    "alexnet": lambda: load_preset("alexnet").replace(hidden_sizes=(128,)),
}


@pytest.mark.parametrize("name", SMALL)
def test_estimates_are_within_ten_percent_of_real_exports(name: str, tmp_path: Path) -> None:
    pytest.importorskip("onnxscript")
    spec = SMALL[name]()
    for kind in EXPORT_KINDS:
        size = write_export(spec, kind, tmp_path).stat().st_size
        estimate = estimate_export_bytes(spec, kind)
        if kind == "onnx":
            assert abs(estimate - size) <= 0.1 * size, (kind, estimate, size)
        else:  # text is generated, so its size is known exactly
            assert estimate == size, kind
    buffer = io.BytesIO()
    torch.save(build_model(spec).state_dict(), buffer)
    assert abs(estimate_export_bytes(spec, "checkpoint") - buffer.tell()) <= 0.1 * buffer.tell()


def test_estimates_scale_with_the_weights_and_need_no_weights() -> None:
    big = load_preset("vgg16")  # 138 M parameters: sized on the meta device, in well under a second
    weights = big.planned_params() * 4
    assert weights <= estimate_export_bytes(big, "onnx") <= 1.01 * weights
    assert weights <= estimate_export_bytes(big, "checkpoint") <= 1.01 * weights
    assert estimate_export_bytes(big, "pytorch") < 50_000  # the .py file holds code, not weights


def test_onnx_estimate_leaves_out_training_only_heads() -> None:
    spec = SMALL["googlenet_aux"]()
    with_aux, without = (estimate_export_bytes(s, "onnx") for s in (spec, spec.replace(aux_logits=False)))
    assert with_aux == without  # the aux heads (16 MB of FC weights here) only run in training
    assert estimate_export_bytes(spec, "checkpoint") > estimate_export_bytes(spec, "onnx") + 16 * 2**20


def test_bad_kinds_are_refused() -> None:
    spec = SMALL["nin_tiny"]()
    assert set(ESTIMATE_KINDS) == {*EXPORT_KINDS, "checkpoint"}
    for function in (estimate_export_bytes, export_notes):
        with pytest.raises(ValueError, match="kind"):
            function(spec, "pickle")
