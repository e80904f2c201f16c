"""``python -m explorer train``: flags over recipes, JSON lines, readable lines, and a 2-process DDP run."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.cli import build_parser, main
from explorer.training.cli import config_from_args

REPO = Path(__file__).resolve().parent.parent
TINY = ["--dataset", "shapes", "--input-size", "32", "--train-subset", "64", "--test-subset", "32",
        "--batch-size", "32", "--device", "cpu"]


def parse(*argv: str):  # noqa: ANN201
    return config_from_args(build_parser().parse_args(["train", *argv]))


def test_flags_override_the_short_recipe() -> None:
    _, config, summary = parse("d2l_vgg11_small", "--dataset", "mnist", "--epochs", "3", "--lr", "0.002",
                               "--no-channels-last", "--max-steps", "7", "--device", "cpu")
    assert config.optimizer == "adam" and config.lr == 0.002 and config.epochs == 3 and config.max_steps == 7
    assert config.dataset == "mnist" and config.channels_last is False
    assert config.input_size == 32  # the short recipe shrinks the input on a CPU
    assert "Adam" in summary


def test_published_recipe_flag() -> None:
    _, config, _ = parse("d2l_googlenet", "--recipe", "published")
    assert (config.optimizer, config.lr, config.batch_size, config.epochs, config.input_size, config.init) == (
        "sgd", 0.1, 128, 10, 96, "xavier")


def test_invalid_flag_value_is_reported_with_the_field(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "d2l_vgg11_small", "--batch-size", "0"]) == 2
    assert "batch_size" in capsys.readouterr().err


def test_json_lines_end_with_done(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["train", "d2l_vgg11_small", *TINY, "--max-steps", "2", "--json", "--checkpoint-dir",
                   str(tmp_path)])
    assert status == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["event"] == "start" and lines[-1]["event"] == "done"
    assert {line["event"] for line in lines} >= {"start", "step", "eval", "epoch", "done"}
    assert 0 <= lines[-1]["test_acc"] <= 1 and Path(lines[-1]["checkpoint_path"]).is_file()
    assert "image" not in lines[-1]["samples"][0]


def test_readable_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "d2l_vgg11_small", *TINY, "--epochs", "2", "--no-checkpoint"]) == 0
    out = capsys.readouterr().out
    assert "epoch 1/2" in out and "epoch 2/2" in out and "test acc" in out and "done: test acc" in out


def test_missing_dataset_exit_status_and_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["train", "d2l_vgg11_small", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path),
                   "--no-download", "--device", "cpu"])
    assert status == 1
    assert "shapes" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_process_ddp_on_gloo(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--nnodes", "1",
               "--master_addr", "127.0.0.1", "--master_port", str(free_port()), "-m", "explorer", "train",
               "d2l_vgg11_small", "--dataset", "shapes", "--input-size", "32", "--train-subset", "128",
               "--test-subset", "50", "--batch-size", "16", "--max-steps", "3", "--log-every", "1", "--json",
               "--device", "cpu", "--checkpoint-dir", str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), "GLOO_SOCKET_IFNAME": "lo"}
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    starts = [line for line in lines if line["event"] == "start"]
    assert len(starts) == 1  # only rank 0 prints
    assert starts[0]["world_size"] == 2 and starts[0]["num_train"] == 128 and starts[0]["num_test"] == 50
    assert starts[0]["steps_per_epoch"] == 4  # 64 examples per process, batch 16
    done = lines[-1]
    assert done["event"] == "done" and done["steps"] == 3
    assert sum(map(sum, done["confusion_matrix"])) == 50  # evaluation all-reduced over both shards
    assert len(list(tmp_path.glob("*.pt"))) == 1  # only rank 0 saves


def test_warm_up_and_clipping_flags_override_the_recipe() -> None:
    _, recipe_config, _ = parse("vgg16", "--dataset", "shapes", "--device", "cpu")
    assert (recipe_config.lr, recipe_config.warmup_steps, recipe_config.grad_clip) == (1e-4, 10, 1.0)
    _, config, _ = parse("vgg16", "--dataset", "shapes", "--device", "cpu", "--warmup-steps", "0", "--grad-clip", "5")
    assert (config.warmup_steps, config.grad_clip) == (0, 5.0)
