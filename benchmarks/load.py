"""Load on the app: N concurrent gradio_client sessions, each making M edits through /analyze.

Run: .venv/bin/python benchmarks/load.py [--clients 20] [--edits 25] [--url URL]
Without --url it starts the app (python app.py) in a separate process on 127.0.0.1 and a free port, as a real
server runs, so the clients' own Python work does not compete with the server for one interpreter lock; it is
stopped at the end.
Prints p50/p95/max latency, failures and throughput as a Markdown table.

Two kinds of client:
- ``--client gradio`` (default): gradio_client sessions in threads, as the issue's load test specifies. On a 2-core
  machine these clients cost several times more CPU than the server (gradio_client polls every 50 ms per job),
  so the latency they see is mostly their own.
- ``--client browser``: what a page does: each session joins the queue over HTTP and reads its event stream
  (Server-Sent Events), all sessions in one asyncio loop; this measures the server.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@dataclass
class LoadResult:
    latencies_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)  # a reply that belongs to another request
    wall_s: float = 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    def table(self, clients: int, edits: int) -> str:
        calls = len(self.latencies_ms) + len(self.failures)
        return "\n".join([
            "| clients x edits | calls | failed | wrong replies | p50 ms | p95 ms | max ms | calls/s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            f"| {clients} x {edits} | {calls} | {len(self.failures)} | {len(self.mismatches)} | "
            f"{statistics.median(self.latencies_ms) if self.latencies_ms else float('nan'):.0f} | "
            f"{self.percentile(0.95):.0f} | {max(self.latencies_ms, default=float('nan')):.0f} | "
            f"{calls / self.wall_s if self.wall_s else 0:.1f} |"])


def client_edits(client_index: int, edits: int) -> list[tuple[str, int]]:
    """Each client edits its own VGG (distinct widths), so a reply can be checked against its own request."""
    from explorer import VGGSpec

    plans = []
    for edit in range(edits):
        width = 8 + client_index * 4 + edit % 5
        spec = VGGSpec(conv_arch=((1, width), (1, 2 * width), (2, 4 * width)), in_channels=1, num_classes=10,
                       input_size=32 + 8 * (edit % 4), hidden_sizes=(256, 256), avgpool_size=None)
        plans.append((json.dumps(spec.to_dict()), spec.planned_params()))
    return plans


def run_load(url: str, *, clients: int, edits: int) -> LoadResult:
    from gradio_client import Client

    result = LoadResult()
    lock = threading.Lock()
    start_barrier = threading.Barrier(clients)

    def session(index: int) -> None:
        client = Client(url, verbose=False, analytics_enabled=False)
        plans = client_edits(index, edits)
        start_barrier.wait()
        for text, expected_params in plans:
            began = time.perf_counter()
            try:
                reply = client.predict(text, api_name="/analyze")
            except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
                with lock:
                    result.failures.append(f"client {index}: {type(exc).__name__}: {exc}"[:300])
                continue
            elapsed = (time.perf_counter() - began) * 1000
            with lock:
                result.latencies_ms.append(elapsed)
                if reply["analysis"]["total_params"] != expected_params:
                    result.mismatches.append(f"client {index}: got {reply['analysis']['total_params']}")

    threads = [threading.Thread(target=session, args=(index,), daemon=True) for index in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    result.wall_s = time.perf_counter() - began
    return result


def run_load_browser_like(url: str, *, clients: int, edits: int) -> LoadResult:
    """Each session: POST /gradio_api/queue/join, then read /gradio_api/queue/data until its result arrives."""
    import asyncio
    import uuid

    import httpx

    result = LoadResult()
    config = httpx.get(url + "config", timeout=30).json()
    fn_index = next(dep["id"] for dep in config["dependencies"] if dep.get("api_name") == "analyze")

    async def call(http: httpx.AsyncClient, session_hash: str, text: str) -> dict:
        join = await http.post(url + "gradio_api/queue/join", json={
            "data": [text], "event_data": None, "fn_index": fn_index, "trigger_id": None,
            "session_hash": session_hash})
        join.raise_for_status()
        async with http.stream("GET", url + "gradio_api/queue/data", params={"session_hash": session_hash}) as stream:
            async for line in stream.aiter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    if not message.get("success"):
                        raise RuntimeError(str(message.get("output"))[:200])
                    return message["output"]["data"][0]
        raise RuntimeError("the event stream closed without a result")

    async def session(index: int, http: httpx.AsyncClient) -> None:
        session_hash = uuid.uuid4().hex[:11]
        for text, expected_params in client_edits(index, edits):
            began = time.perf_counter()
            try:
                reply = await call(http, session_hash, text)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                result.failures.append(f"client {index}: {type(exc).__name__}: {exc}"[:300])
                continue
            result.latencies_ms.append((time.perf_counter() - began) * 1000)
            if reply["analysis"]["total_params"] != expected_params:
                result.mismatches.append(f"client {index}: got {reply['analysis']['total_params']}")

    async def main() -> None:
        limits = httpx.Limits(max_connections=4 * clients, max_keepalive_connections=2 * clients)
        async with httpx.AsyncClient(timeout=120, limits=limits) as http:
            await asyncio.gather(*(session(index, http) for index in range(clients)))

    began = time.perf_counter()
    asyncio.run(main())
    result.wall_s = time.perf_counter() - began
    return result


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(timeout_s: float = 120.0):  # noqa: ANN201 - (subprocess.Popen, url)
    """``python app.py`` on 127.0.0.1 and a free port; returns once the page answers."""
    import subprocess
    import urllib.request

    port = free_port()
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False"}
    server = subprocess.Popen([sys.executable, str(root / "app.py")], cwd=root, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the app exited with code {server.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return server, url
        except OSError:
            time.sleep(0.5)
    server.terminate()
    raise RuntimeError("the app did not start in time")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--edits", type=int, default=25)
    parser.add_argument("--url", default=None)
    parser.add_argument("--client", choices=("gradio", "browser", "both"), default="both")
    args = parser.parse_args()
    server = None
    url = args.url
    if url is None:
        server, url = start_server()
    results = []
    try:
        import psutil

        process = psutil.Process(server.pid) if server is not None else None
        kinds = ("browser", "gradio") if args.client == "both" else (args.client,)
        for kind in kinds:
            cpu_before = sum(process.cpu_times()[:2]) if process else 0.0
            runner = run_load_browser_like if kind == "browser" else run_load
            result = runner(url, clients=args.clients, edits=args.edits)
            server_cpu = (sum(process.cpu_times()[:2]) - cpu_before) if process else float("nan")
            results.append((kind, result, server_cpu))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    for kind, result, server_cpu in results:
        calls = len(result.latencies_ms) + len(result.failures)
        print(f"\n{kind}-style clients (server CPU {1000 * server_cpu / max(calls, 1):.0f} ms per call):")
        print(result.table(args.clients, args.edits))
        for failure in result.failures[:5]:
            print("failure:", failure)
    print(f"\nMachine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    return 0 if all(not r.failures and not r.mismatches for _, r, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
