"""Hugging Face ZeroGPU support: when the ``spaces`` package is importable, GPU work runs inside ``spaces.GPU``.

``spaces`` must be imported before anything touches CUDA, so ``app.py`` imports this module first. Elsewhere the
decorator returns the function unchanged and the app behaves exactly as it does locally.
"""
from __future__ import annotations

from typing import Any, Callable

try:  # provided by the Spaces platform; not a requirement of this project
    import spaces  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the platform
    spaces = None

#: ZeroGPU's own ceiling for one call, in seconds.
MAX_GPU_SECONDS = 300
MIN_GPU_SECONDS = 60


def on_zerogpu() -> bool:
    return spaces is not None


def gpu_task(function: Callable[..., Any], *, duration: Callable[..., float]) -> Callable[..., Any]:
    """``function`` wrapped in ``spaces.GPU(duration=...)`` on ZeroGPU; ``function`` itself elsewhere.

    Args:
        duration: called with the same arguments as ``function``; returns the seconds of GPU to ask for.
    """
    if spaces is None:
        return function

    def bounded(*args: Any, **kwargs: Any) -> int:
        try:
            seconds = float(duration(*args, **kwargs))
        except Exception:  # noqa: BLE001 - a bad estimate must not stop the run; ask for the most
            seconds = MAX_GPU_SECONDS
        return int(min(max(seconds, MIN_GPU_SECONDS), MAX_GPU_SECONDS))

    return spaces.GPU(duration=bounded)(function)
