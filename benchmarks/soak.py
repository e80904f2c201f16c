"""Soak: N clients x M edits against a real server, with the server's memory (RSS) read every 100 calls.

Run: .venv/bin/python benchmarks/soak.py [--clients 10] [--edits 200] [--max-seconds 600]

It starts ``python app.py`` on 127.0.0.1 and a free port (Gradio's cache in a temporary folder, removed at the
end), then each client does what a page does when a student types: it joins the queue with the Explore tab's
"Input size" change event (fn_index from /config; a new size each time, so every edit is a new network) and reads
its event stream; each client has its own address (X-Forwarded-For, which uvicorn trusts from 127.0.0.1). Every 50 edits a client also builds a file (the JSON export) and, every 100 edits, reloads the
page (a fresh session). Bounded: at most clients x edits calls and --max-seconds of wall time; only 127.0.0.1.
Prints RSS every 100 calls, latency, failures and the disk the exports hold, as Markdown.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from benchmarks.load import start_server  # noqa: E402


@dataclass
class SoakResult:
    latencies_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    exports: int = 0
    exports_refused: list[str] = field(default_factory=list)
    rss_mb: list[tuple[int, float]] = field(default_factory=list)  # (calls so far, RSS in MB)
    disk_bytes: list[int] = field(default_factory=list)
    wall_s: float = 0.0
    calls: int = 0


def find_events(config: dict) -> tuple[int, list[Any], int]:
    """(fn_index of the input-size edit, its default inputs, fn_index of the export)."""
    components = {component["id"]: component for component in config["components"]}
    size = next(component["id"] for component in config["components"]
                if component.get("props", {}).get("elem_id") == "input-size")
    edit = next(dep for dep in config["dependencies"] if [size, "change"] in [list(t) for t in dep["targets"]])
    defaults = [components[index].get("props", {}).get("value") for index in edit["inputs"]]
    export = next(dep["id"] for dep in config["dependencies"] if dep.get("api_name") == "export_file")
    return edit["id"], defaults, export


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def run_soak(url: str, *, clients: int, edits: int, max_seconds: float, server_pid: int | None,
             cache: Path | None) -> SoakResult:
    import httpx
    import psutil

    result = SoakResult()
    config = httpx.get(url + "config", timeout=30).json()
    edit_index, defaults, export_index = find_events(config)
    process = psutil.Process(server_pid) if server_pid else None
    deadline = time.monotonic() + max_seconds

    def sample() -> None:
        if process is not None:
            result.rss_mb.append((result.calls, process.memory_info().rss / 2**20))
        if cache is not None:
            result.disk_bytes.append(folder_bytes(cache))

    async def call(http: httpx.AsyncClient, session: str, fn_index: int, data: list[Any],
                   address: str) -> tuple[bool, Any]:
        # From 127.0.0.1, uvicorn takes the client's address from X-Forwarded-For: each client is its own computer.
        join = await http.post(url + "gradio_api/queue/join", headers={"X-Forwarded-For": address}, json={
            "data": data, "event_data": None, "fn_index": fn_index, "trigger_id": None, "session_hash": session})
        join.raise_for_status()
        async with http.stream("GET", url + "gradio_api/queue/data", params={"session_hash": session}) as stream:
            async for line in stream.aiter_lines():
                if line.startswith("data:"):
                    message = json.loads(line[5:])
                    if message.get("msg") == "process_completed":
                        output = message.get("output") or {}
                        return bool(message.get("success")), output.get("error") or output.get("data")
        raise RuntimeError("the event stream closed without a result")

    def counted() -> None:
        result.calls += 1
        if result.calls % 100 == 0:
            sample()

    async def client(index: int, http: httpx.AsyncClient) -> None:
        session = uuid.uuid4().hex[:11]
        address = f"10.0.{index // 250}.{index % 250 + 1}"
        for edit in range(edits):
            if time.monotonic() > deadline:
                return
            if edit and edit % 100 == 0:
                session = uuid.uuid4().hex[:11]  # the student reloads the page
            data = list(defaults)
            data[0] = 64 + 8 * ((index * 37 + edit) % 57)  # 64..512 px: a new network nearly every time
            began = time.perf_counter()
            try:
                success, output = await call(http, session, edit_index, data, address)
                if not success:
                    result.failures.append(f"client {index}: {str(output)[:200]}")
                else:
                    result.latencies_ms.append((time.perf_counter() - began) * 1000)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                result.failures.append(f"client {index}: {type(exc).__name__}: {exc}"[:300])
            counted()
            if edit % 50 == 49:
                try:
                    success, output = await call(http, session, export_index, ["JSON spec (.json)", None],
                                                  address)
                    if success:
                        result.exports += 1
                    else:
                        result.exports_refused.append(str(output)[:200])
                except Exception as exc:  # noqa: BLE001
                    result.failures.append(f"client {index} export: {type(exc).__name__}: {exc}"[:300])
                counted()

    async def main() -> None:
        limits = httpx.Limits(max_connections=4 * clients, max_keepalive_connections=2 * clients)
        async with httpx.AsyncClient(timeout=120, limits=limits) as http:
            await asyncio.gather(*(client(index, http) for index in range(clients)))

    sample()
    began = time.perf_counter()
    asyncio.run(main())
    result.wall_s = time.perf_counter() - began
    sample()
    return result


def report(result: SoakResult, clients: int, edits: int) -> str:
    ordered = sorted(result.latencies_ms)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else float("nan")
    rss = [mb for _, mb in result.rss_mb]
    lines = [
        "| clients x edits | calls | failed | p50 ms | p95 ms | RSS start MB | RSS end MB | RSS max MB | exports "
        "(refused) | disk max kB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {clients} x {edits} | {result.calls} | {len(result.failures)} | "
        f"{statistics.median(ordered) if ordered else float('nan'):.0f} | {p95:.0f} | "
        f"{rss[0] if rss else float('nan'):.0f} | {rss[-1] if rss else float('nan'):.0f} | "
        f"{max(rss, default=float('nan')):.0f} | {result.exports} ({len(result.exports_refused)}) | "
        f"{max(result.disk_bytes, default=0) / 1000:.0f} |",
        "",
        "RSS every 100 calls (MB): " + ", ".join(f"{mb:.0f}" for _, mb in result.rss_mb),
    ]
    if len(rss) >= 4:
        half = len(rss) // 2
        lines.append(f"Second half growth: {rss[-1] - rss[half]:+.0f} MB over {result.rss_mb[-1][0] - result.rss_mb[half][0]}"
                     f" calls")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--max-seconds", type=float, default=600)
    args = parser.parse_args()
    clients, edits = min(max(args.clients, 1), 100), min(max(args.edits, 1), 5000)
    cache = Path(tempfile.mkdtemp(prefix="explorer-soak-"))
    os.environ["GRADIO_TEMP_DIR"] = str(cache)  # the server's cache, so its disk can be measured alone
    server, url = start_server()
    try:
        result = run_soak(url, clients=clients, edits=edits, max_seconds=args.max_seconds, server_pid=server.pid,
                          cache=cache)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(cache, ignore_errors=True)
    print(report(result, clients, edits))
    for failure in result.failures[:5]:
        print("failure:", failure)
    for refusal in result.exports_refused[:3]:
        print("export refused:", refusal)
    print(f"\nMachine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end; wall {result.wall_s:.0f} s")
    return 0 if not result.failures else 1


if __name__ == "__main__":
    sys.exit(main())
