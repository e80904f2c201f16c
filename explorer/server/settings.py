"""A shared server's limits, read from environment variables in this one place.

Every limit a student can run into on a classroom server or a Space is here, with its variable, its default and
what it bounds. Defaults suit a classroom of thirty. A server is *shared* when others can reach it: on Hugging
Face Spaces (``SPACE_ID`` is set) or when ``GRADIO_SERVER_NAME`` is not a loopback address; some defaults are
stricter there (the wall time per run, the ONNX file size).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Mapping

_MB = 1_000_000
LOOPBACK_NAMES = frozenset({"", "localhost", "127.0.0.1", "::1", "0:0:0:0:0:0:0:1", "ip6-localhost"})


@dataclass(frozen=True)
class EnvVar:
    """One setting: its variable, defaults (on this machine only / on a shared server) and meaning."""

    name: str
    local_default: str
    shared_default: str
    meaning: str


#: Every setting, in the order the README's table lists them.
ENV_VARS: tuple[EnvVar, ...] = (
    EnvVar("EXPLORER_MAX_TRAIN_SECONDS", "1800", "600", "wall time of one training run, in seconds"),
    EnvVar("EXPLORER_TRAIN_WAITING_PER_CLIENT", "1", "1",
           "training runs one client (address or session) may have waiting; a client never has more than one "
           "running"),
    EnvVar("EXPLORER_TRAIN_QUEUE_SIZE", "30", "30", "training runs waiting, from all clients together"),
    EnvVar("EXPLORER_EXPORT_BURST", "6", "6", "exports one client may make in a row"),
    EnvVar("EXPLORER_EXPORT_EVERY_SECONDS", "20", "20", "after the burst, one more export per this many seconds"),
    EnvVar("EXPLORER_MAX_ONNX_MB", "0", "256", "largest ONNX file the page builds, in MB (0: no limit beyond "
           "ONNX's own 2 GiB)"),
    EnvVar("EXPLORER_DISK_CAP_MB", "2048", "2048",
           "disk that all exports and checkpoints may hold together, in MB (0: no exports or checkpoints)"),
    EnvVar("EXPLORER_FILE_MAX_AGE_SECONDS", "3600", "3600",
           "age after which served files (exports, checkpoints, Gradio's cache) are deleted"),
    EnvVar("EXPLORER_PROXY_HOPS", "0", "0",
           "trusted proxies in front of the app: 0 ignores X-Forwarded-For; n takes the n-th address from its "
           "right (1 on Spaces)"),
    EnvVar("EXPLORER_ADMIN_PASSWORD", "", "", "turns on the Teacher tab (queue view, stop, clear); unset: no tab"),
)


def is_shared(environ: Mapping[str, str] | None = None) -> bool:
    """Whether others can reach this server: on Spaces, or listening on a non-loopback address."""
    env = os.environ if environ is None else environ
    if env.get("SPACE_ID"):
        return True
    host = env.get("GRADIO_SERVER_NAME", "").strip().lower().strip("[]")
    return host not in LOOPBACK_NAMES and not host.startswith("127.")


@dataclass(frozen=True)
class ServerSettings:
    """The limits in force (see :data:`ENV_VARS` for each one's variable)."""

    shared: bool  # reachable by others (Spaces, or a non-loopback GRADIO_SERVER_NAME)
    on_spaces: bool
    max_train_seconds: float
    train_waiting_per_client: int
    train_queue_size: int
    export_burst: int
    export_every_seconds: float
    max_onnx_bytes: int | None  # None: no limit beyond ONNX's own
    disk_cap_bytes: int
    file_max_age_seconds: int
    proxy_hops: int
    admin_password: str | None  # None: no Teacher tab

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        """Read every setting; a missing or malformed value falls back to its default."""
        env = os.environ if environ is None else environ
        shared = is_shared(env)

        def number(name: str, low: float, high: float) -> float:
            var = next(var for var in ENV_VARS if var.name == name)
            default = float(var.shared_default if shared else var.local_default)
            try:
                value = float(env.get(name, "").strip() or default)
            except ValueError:
                return default
            return default if not math.isfinite(value) else min(max(value, low), high)

        onnx_mb = number("EXPLORER_MAX_ONNX_MB", 0, 100_000)
        password = env.get("EXPLORER_ADMIN_PASSWORD") or None
        return cls(
            shared=shared,
            on_spaces=bool(env.get("SPACE_ID")),
            max_train_seconds=number("EXPLORER_MAX_TRAIN_SECONDS", 10, 7 * 24 * 3600),
            train_waiting_per_client=int(number("EXPLORER_TRAIN_WAITING_PER_CLIENT", 0, 100)),
            train_queue_size=int(number("EXPLORER_TRAIN_QUEUE_SIZE", 0, 10_000)),
            export_burst=int(number("EXPLORER_EXPORT_BURST", 1, 10_000)),
            export_every_seconds=number("EXPLORER_EXPORT_EVERY_SECONDS", 0, 24 * 3600),
            max_onnx_bytes=int(onnx_mb * _MB) if onnx_mb > 0 else None,
            disk_cap_bytes=int(number("EXPLORER_DISK_CAP_MB", 0, 10_000_000) * _MB),
            file_max_age_seconds=int(number("EXPLORER_FILE_MAX_AGE_SECONDS", 60, 30 * 24 * 3600)),
            proxy_hops=int(number("EXPLORER_PROXY_HOPS", 0, 10)) if env.get("EXPLORER_PROXY_HOPS", "").strip()
            or not env.get("SPACE_ID") else 1,  # Spaces' proxy records the client's address
            admin_password=password,
        )

    def delete_cache(self) -> tuple[int, int]:
        """Gradio's ``Blocks(delete_cache=(every, age))``: served files older than the age go."""
        return max(min(self.file_max_age_seconds // 4, 600), 30), self.file_max_age_seconds

    def summary_rows(self) -> list[tuple[str, str]]:
        """(setting, value) pairs for the Teacher tab."""
        onnx = "no limit" if self.max_onnx_bytes is None else f"{self.max_onnx_bytes / _MB:,.0f} MB"
        return [
            ("server", ("shared (Spaces)" if self.on_spaces else "shared (LAN)") if self.shared else "this machine"),
            ("wall time per run", f"{self.max_train_seconds:,.0f} s"),
            ("runs per client", f"1 running + {self.train_waiting_per_client} waiting"),
            ("runs waiting in all", f"{self.train_queue_size}"),
            ("exports per client", f"{self.export_burst} in a row, then one per {self.export_every_seconds:g} s"),
            ("largest ONNX file", onnx),
            ("disk for exports and checkpoints", f"{self.disk_cap_bytes / _MB:,.0f} MB"),
            ("files deleted after", f"{self.file_max_age_seconds:,} s"),
            ("trusted proxy hops", f"{self.proxy_hops}"),
        ]
