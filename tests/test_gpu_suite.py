"""benchmarks/gpu_suite.py: its dry run on the CPU (with gradio and plotly made unimportable, as on the GPU machine),
the JSON it writes, and its NVML section's GPU branch against a fake NVML and a fake nvidia-smi."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from benchmarks import gpu_suite
from explorer import gpu as gpu_module
from tests.test_gpu import FakeNvml

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ["environment", "speed", "memory", "oom", "correctness", "nvml", "pytest", "compile"]


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One dry run of the whole suite in a child process where ``import gradio`` and ``import plotly`` fail."""
    folder = tmp_path_factory.mktemp("suite")
    blocker = folder / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\nfor name in ('gradio', 'gradio_client', 'plotly'):\n    sys.modules[name] = None\n",
        encoding="utf-8")
    out = folder / "out"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(blocker), str(ROOT)]), PYTHONUNBUFFERED="1",
               CUDA_VISIBLE_DEVICES="")
    process = subprocess.run([sys.executable, "benchmarks/gpu_suite.py", "--out", str(out), "--quick",
                              "--budget", "240"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    report = json.loads((out / "gpu_suite.json").read_text(encoding="utf-8"))
    return {"report": report, "stdout": process.stdout, "log": (out / "gpu_suite.log").read_text(encoding="utf-8")}


def test_dry_run_report_structure(dry_run: dict[str, Any]) -> None:
    report = dry_run["report"]
    assert set(report) == {"suite", "environment", "sections", "goals"}
    assert report["suite"]["schema"] == gpu_suite.SCHEMA_VERSION and report["suite"]["quick"] is True
    assert report["suite"]["cuda"] is False
    assert list(report["sections"]) == SECTIONS
    for name, section in report["sections"].items():
        assert section["status"] in gpu_suite.SECTION_STATUSES
        assert set(section) == {"status", "reason", "seconds", "results", "notes", "errors"}
        if name == "compile":
            assert section["status"] == "skipped" and section["reason"].startswith("needs CUDA")
        else:  # every CPU-capable part ran, without an error (nothing needed gradio or plotly)
            assert section["status"] == "ok", (name, section["errors"])
    environment = report["environment"]
    assert environment["cuda_available"] is False and environment["torchinfo"]
    assert environment["packages"]["gradio"] is False and environment["packages"]["plotly"] is False
    for goal in report["goals"].values():
        assert set(goal) == {"goal", "value", "met", "detail"}


def test_dry_run_exercises_each_section(dry_run: dict[str, Any]) -> None:
    sections = dry_run["report"]["sections"]
    speed = sections["speed"]["results"]["setups"]["d2l_vgg11_small"]
    assert speed["tutorial"]["examples_per_s"] > 0 and speed["engine"]["examples_per_s"] > 0
    assert speed["engine"]["precision"] == "bf16" or speed["engine"]["precision"] == "fp32"
    assert sections["speed"]["results"]["profiles"], "a profile ran on the CPU too"
    (memory,) = sections["memory"]["results"]["runs"]
    assert memory["measured_kind"] == "live tensor bytes (CPU)" and 0.97 <= memory["ratio"] <= 1.03
    refusal = sections["oom"]["results"]["refusal"]
    assert refusal["refused"] and refusal["events"] == ["error"] and "Won't fit" in refusal["message"]
    assert "forced" not in sections["oom"]["results"] and any("CUDA" in note for note in sections["oom"]["notes"])
    (cli,) = sections["correctness"]["results"]["runs"].values()
    assert cli["ok"] and cli["device"] == "cpu" and cli["test_acc"] is not None
    nvml = sections["nvml"]["results"]
    assert nvml["available"] is False and nvml["reason"] and nvml["sample_ms"]["median"] > 0
    counts = sections["pytest"]["results"]["counts"]
    assert counts["failures"] == 0 and counts["errors"] == 0 and counts["skipped"] == counts["tests"] > 0
    assert "=== summary ===" in dry_run["stdout"] and "=== summary ===" in dry_run["log"]


def fake_smi(values: dict[str, Any]) -> dict[str, Any]:
    reading = {"time": 0.0, "utilization.gpu": 37.0, "memory.used": 1024.0, "memory.total": 81920.0,
               "power.draw": 71.5, "temperature.gpu": 41.0, "clocks.sm": 1980.0, "clocks.mem": 3201.0, "pstate": "P0"}
    reading.update(values)
    return reading


def test_nvml_section_gpu_branch_with_a_fake_nvml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The branch that runs on a GPU machine: paired readings idle, under load and after, the comparison with
    nvidia-smi, the sampler's cost. NVML and nvidia-smi are fakes; the 'load' fails at once without CUDA."""
    real_sampler = gpu_module.GpuSampler
    monkeypatch.setattr(gpu_module, "GpuSampler", lambda **kwargs: real_sampler(backend=FakeNvml(), **kwargs))
    monkeypatch.setattr(gpu_suite, "NVML_WAITS", dict.fromkeys(gpu_suite.NVML_WAITS, 0.0))
    smi_values: dict[str, Any] = {"memory.used": 1100.0}  # 76 MiB apart: beyond the tolerance
    monkeypatch.setattr(gpu_suite, "nvidia_smi_query", lambda: fake_smi(smi_values))
    monkeypatch.setattr(gpu_suite, "nvidia_smi_processes", lambda: [])
    monkeypatch.setattr(gpu_suite, "nvml_memory_versions", lambda: {"v1_used_mib": 1.0})
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda *args, **kwargs: 0)
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda *args, **kwargs: 0)
    suite = gpu_suite.Suite(tmp_path, quick=False, budget=100, cuda=True, argv=[])
    section = gpu_suite.Section("nvml", status="ok")
    gpu_suite.section_nvml(suite, section)
    results = section.results
    assert [len(results["pairs"][phase]) for phase in ("idle", "load", "after")] == [3, 5, 3]
    pair = results["pairs"]["load"][0]
    assert pair["sampler"]["memory_used_mib"] == 1024 and pair["sampler"]["clock_sm_mhz"] == 1980
    fields = {item["field"] for item in results["disagreements"]}
    assert fields == {"memory_used_mib"}  # the only field beyond its tolerance
    assert results["load_error"] and "CUDA" in results["load_error"]
    assert results["utilisation"]["load"] == [37] * 5
    assert suite.goals["nvml_load"]["met"] is False  # 37% is not a training load
    assert suite.goals["nvml_cost"]["value"] > 0 and results["thread_core_percent"] >= 0


def test_compare_names_the_fields_beyond_tolerance() -> None:
    pair = {"sampler": {"utilization_gpu": 90, "memory_used_mib": 5000.0, "memory_total_mib": 143771.0,
                        "power_draw_w": 300.0, "temperature_c": 40, "clock_sm_mhz": 1980, "clock_mem_mhz": 3201,
                        "pstate": "P0"},
            "nvidia_smi": fake_smi({"utilization.gpu": 92.0, "memory.used": 5000.0, "memory.total": 143771.0,
                                    "power.draw": 500.0, "temperature.gpu": 40.0, "pstate": "P2"})}
    found = {item["field"]: item for item in gpu_suite.compare(pair, "load")}
    assert set(found) == {"power_draw_w", "pstate"} and found["power_draw_w"]["difference"] == -200.0


def test_the_oom_batch_needs_twice_the_card() -> None:
    total = 143_771 * 2**20
    batch, per_image = gpu_suite.oom_batch(total)
    assert batch * per_image >= 2 * total and (batch - 1) * per_image < 2 * total and batch <= 65_536
