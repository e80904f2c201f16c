"""Multi-process training under ``torchrun``: DistributedDataParallel with gloo (CPU) or nccl (CUDA).

``torchrun --nproc_per_node N -m explorer train ...`` starts N processes with ``WORLD_SIZE``, ``RANK`` and
``LOCAL_RANK`` set. :func:`init_from_env` joins them into a process group; the engine then shards the training
split, wraps the model in DDP (gradients are averaged across processes at every step) and all-reduces its
metrics, so every process reports the same numbers. Only rank 0 prints and saves.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def env_world_size() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def current() -> DistContext:
    """The process group this process is in, or a single-process context."""
    if dist.is_available() and dist.is_initialized():
        return DistContext(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    return DistContext()


def init_from_env(device: str = "auto") -> DistContext:
    """Join the process group torchrun described in the environment (no-op for a single process).

    gloo when training on the CPU, nccl on CUDA; each process uses the GPU of its ``LOCAL_RANK``.
    """
    if env_world_size() <= 1 or not dist.is_available():
        return DistContext()
    if dist.is_initialized():
        return current()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device != "cpu" and torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return current()


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(tensor: torch.Tensor, context: DistContext) -> torch.Tensor:
    """The sum of ``tensor`` over all processes (the tensor itself for one process)."""
    if context.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def shard(num_examples: int, context: DistContext, *, equal: bool) -> torch.Tensor | None:
    """This process's indices (every ``world_size``-th from its rank); None without a process group.

    ``equal`` truncates every shard to the same length, which DDP needs (every process must take the same
    number of steps).
    """
    if not context.enabled:
        return None
    indices = torch.arange(context.rank, num_examples, context.world_size)
    if equal:
        indices = indices[: num_examples // context.world_size]
    return indices
