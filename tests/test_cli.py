"""The command line. The main paths run as a user runs them (``python -m explorer ...`` in a subprocess from the
repository root); error cases call :func:`explorer.cli.main` in-process, since each subprocess pays torch's import."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from explorer import analyze, preset_names
from explorer.cli import main
from explorer.specs import NiNSpec

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "explorer", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_presets_lists_every_name() -> None:
    result = run_cli("presets")
    assert result.returncode == 0, result.stderr
    listed = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    assert listed == preset_names()


def test_presets_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["presets", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in rows] == preset_names()
    assert all(row["description"] and row["source"] and row["family"] for row in rows)


def test_summary_vgg16_prints_torchvisions_figures() -> None:
    result = run_cli("summary", "vgg16")
    assert result.returncode == 0, result.stderr
    assert "138,357,544" in result.stdout  # torchvision's parameter count
    assert "15,483,821,032" in result.stdout  # torchinfo's mult-adds for torchvision's vgg16
    assert "features.block5.conv3" in result.stdout


def test_summary_json_parses() -> None:
    result = run_cli("summary", "vgg16", "--json", "--batch-size", "8")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["spec"]["family"] == "vgg"
    assert data["analysis"]["total_params"] == 138_357_544
    assert data["analysis"]["batch_size"] == 8
    assert data["analysis"]["output_shape"] == [1000]


def test_summary_too_small_input_is_a_clean_error() -> None:
    result = run_cli("summary", "d2l_vgg11", "--input-size", "28")
    assert result.returncode != 0
    assert ("block 5: spatial size 0x0 after max-pool (input 28x28 is too small for 5 VGG blocks; "
            "use >= 32 or fewer blocks)") in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_summary_of_a_json_spec_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = NiNSpec(blocks=[(16, 5, 1, 2, (8,)), (32, 3, 1, 1)], in_channels=3, num_classes=5, input_size=40)
    path = tmp_path / "my_nin.json"
    path.write_text(json.dumps(spec.to_dict()), encoding="utf-8")
    result = run_cli("summary", str(path), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["spec"] == spec.to_dict()
    assert data["analysis"]["total_params"] == analyze(spec).total_params
    assert main(["summary", str(path)]) == 0  # the text table, in-process
    assert f"{analyze(spec).total_params:,}" in capsys.readouterr().out


@pytest.mark.parametrize("content, words", [
    ('{"family": "vgg", "conv_archs": [[1, 64]]}', "conv_archs"),
    ('{"family": "vgg", "conv_arch": "__import__(\'os\').system(\'echo pwned\')"}', "conv_arch"),
    ("[1, 2, 3]", "JSON object"),
    ("{not json", "not valid JSON"),
])
def test_bad_spec_files_are_clean_errors(tmp_path: Path, content: str, words: str,
                                        capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    assert main(["summary", str(path)]) != 0  # returns a status instead of raising
    captured = capfd.readouterr()  # file-descriptor level: a shell command's echo would land in out
    assert captured.err.startswith("error: ") and words in captured.err
    assert captured.out == ""


@pytest.mark.parametrize("argv, words", [
    (["summary", "vgg99"], "no preset named 'vgg99'"),
    (["summary", "missing.json"], "no such file"),
    (["summary", "nin_cifar", "--input-size", "4"], "input_size"),
    (["summary", "nin_cifar", "--batch-size", "0"], "batch_size"),
])
def test_other_errors_are_clean(argv: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) != 0
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and words in captured.err


@pytest.mark.parametrize("content", [b"just some text\n", b'{"family": "vgg"}', b"PK\x03\x04not a zip"])
def test_export_checkpoint_of_a_file_that_is_not_one_fails_in_one_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.pt"
    path.write_bytes(content)
    result = run_cli("export", "--checkpoint", str(path), "--out", str(tmp_path / "out"))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: checkpoint: ") and result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == "" and not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv, words", [
    (["export"], "--checkpoint FILE"),
    (["export", "nin_cifar", "--checkpoint", "x.pt"], "not both"),
    (["export", "--checkpoint", "x.pt", "--input-size", "64"], "--input-size does not apply"),
    (["export", "--checkpoint", "missing.pt"], "no such file"),
])
def test_export_argument_errors_are_clean(argv: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) != 0
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and words in captured.err and captured.out == ""
