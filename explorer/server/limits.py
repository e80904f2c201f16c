"""Per-client limits, kept by the handlers themselves (no Gradio here).

A *client* is an address plus a session. Gradio's ``api_visibility`` only hides an event from the API page, and
``queue/join`` runs any event with any fresh ``session_hash``, so every limit is counted by address as well as by
session, inside the handler:

- :class:`RateLimiter`: a token bucket per key (exports).
- :class:`TrainingQueue`: the one device slot and the runs waiting for it; at most one running and
  ``waiting_per_client`` waiting runs per address and per session, the rest refused at once.
"""
from __future__ import annotations

import ipaddress
import itertools
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Literal, Mapping


class LimitExceeded(Exception):
    """A limit was reached; the message says which and what to do."""


@dataclass(frozen=True)
class Client:
    """Who made a request: the address limits are counted by, and the browser session."""

    address: str
    session: str

    def keys(self) -> tuple[str, str]:
        return f"address:{self.address}", f"session:{self.session}"

    def label(self) -> str:
        return f"{self.address} / {self.session[:8] or '-'}"


def client_address(host: str | None, headers: Mapping[str, str] | None, *, proxy_hops: int = 0) -> str:
    """The client's address: the peer's, or, behind ``proxy_hops`` trusted proxies, the one they recorded.

    Each proxy appends the address it received the request from to ``X-Forwarded-For``, so the n-th entry from
    the right was written by the n-th trusted proxy; entries further left are the client's own say and are never
    trusted. With ``proxy_hops=0`` the header is ignored.
    """
    peer = (host or "").strip() or "unknown"
    if proxy_hops <= 0 or not headers:
        return peer
    forwarded = headers.get("x-forwarded-for") or headers.get("X-Forwarded-For") or ""
    entries = [entry.strip() for entry in forwarded.split(",") if entry.strip()]
    if not entries:
        return peer
    candidate = entries[-proxy_hops] if len(entries) >= proxy_hops else entries[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:  # not an address: a garbled header; count it as the peer
        return peer


class RateLimiter:
    """Token buckets: ``burst`` actions at once per key, then one more per ``every_seconds``.

    :meth:`acquire` takes a token from every key's bucket or from none, so a client is limited by its address
    and by its session together. Old keys are forgotten beyond ``max_keys`` (the least recently used first).
    """

    def __init__(self, *, burst: int, every_seconds: float, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 10_000) -> None:
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst!r}")
        self.burst = burst
        self.every_seconds = max(float(every_seconds), 0.0)
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at time)
        self._lock = threading.Lock()

    def _tokens(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        if self.every_seconds == 0:
            return float(self.burst)
        return min(float(self.burst), tokens + (now - at) / self.every_seconds)

    def wait_seconds(self, *keys: str) -> float:
        """Seconds until every key has a token (0: now)."""
        with self._lock:
            now = self._clock()
            lacking = max((1.0 - self._tokens(key, now) for key in keys), default=0.0)
            return max(lacking, 0.0) * self.every_seconds

    def acquire(self, *keys: str) -> float:
        """Take a token for every key and return 0, or take none and return the seconds to wait."""
        with self._lock:
            now = self._clock()
            levels = {key: self._tokens(key, now) for key in keys}
            lacking = max((1.0 - level for level in levels.values()), default=0.0)
            if lacking > 1e-9:
                return lacking * self.every_seconds
            for key, level in levels.items():
                self._buckets[key] = (level - 1.0, now)
                self._buckets.move_to_end(key)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
            return 0.0


TicketState = Literal["waiting", "running", "done"]
_ticket_ids = itertools.count(1)


@dataclass
class Ticket:
    """One training run (or memory-and-time check) from its join to its end."""

    client: Client
    kind: str  # "train" or "check"
    network: str  # what it trains, in a few words
    created: float  # time.time() at the join
    id: int = field(default_factory=lambda: next(_ticket_ids))
    started: float | None = None
    state: TicketState = "waiting"
    stop_requested: bool = False  # the teacher stopped it (while running)
    removed: bool = False  # the teacher cleared it from the queue (while waiting)


@dataclass(frozen=True)
class TicketView:
    """A row of the Teacher tab's queue table."""

    place: int  # 0: running; 1, 2, ...: waiting, in order
    state: TicketState
    client: str
    kind: str
    network: str
    seconds: float  # running for (running) or waited for (waiting)


class TrainingQueue:
    """One device slot and a FIFO of runs waiting for it, with per-client limits checked at the join.

    A handler calls :meth:`join` first (it raises :class:`LimitExceeded` at once when the client already holds
    its places, or the queue is full), then polls :meth:`try_start` until it is its turn, and always calls
    :meth:`leave` at the end. Nothing here waits: the handler decides how (the app's handler awaits, so a waiting
    run holds no thread).
    """

    def __init__(self, *, waiting_per_client: int = 1, max_waiting: int = 30,
                 clock: Callable[[], float] = time.time) -> None:
        self.waiting_per_client = waiting_per_client
        self.max_waiting = max_waiting
        self._clock = clock
        self._tickets: list[Ticket] = []  # the running one (if any) first, then the waiting ones in order
        self._lock = threading.Lock()

    def _mine(self, client: Client) -> list[Ticket]:
        return [ticket for ticket in self._tickets
                if ticket.client.address == client.address or ticket.client.session == client.session]

    def join(self, client: Client, *, kind: str, network: str) -> Ticket:
        """Take a place (running at once when nothing else is queued), or raise :class:`LimitExceeded`."""
        with self._lock:
            mine = self._mine(client)
            running = [ticket for ticket in mine if ticket.state == "running"]
            waiting = [ticket for ticket in mine if ticket.state == "waiting"]
            would_wait = bool(self._tickets)
            if would_wait and len(waiting) >= self.waiting_per_client:
                held = (f"{len(running)} running and {len(waiting)} waiting" if running
                        else f"{len(waiting)} waiting")
                allowed = (f"one running and {self.waiting_per_client} waiting" if self.waiting_per_client
                           else "one at a time and none waiting")
                raise LimitExceeded(
                    f"You already have {held} (counted per computer: {client.address}). Each computer may have "
                    f"{allowed}. Wait for your run to finish, or press Stop, then start again.")
            waiting_all = sum(ticket.state == "waiting" for ticket in self._tickets)
            if would_wait and waiting_all >= self.max_waiting:
                raise LimitExceeded(f"The training queue is full ({waiting_all} runs waiting). Try again in a few "
                                    f"minutes.")
            ticket = Ticket(client=client, kind=kind, network=network, created=self._clock())
            if not would_wait:  # an idle device: it starts now
                ticket.state, ticket.started = "running", ticket.created
            self._tickets.append(ticket)
            return ticket

    def try_start(self, ticket: Ticket) -> bool:
        """True once ``ticket`` holds the device (it then stays running until :meth:`leave`)."""
        with self._lock:
            if ticket.state == "running":
                return True
            if ticket.removed or ticket.state != "waiting":
                return False
            if any(other.state == "running" for other in self._tickets):
                return False
            first_waiting = next(other for other in self._tickets if other.state == "waiting")
            if first_waiting is not ticket:
                return False
            ticket.state, ticket.started = "running", self._clock()
            return True

    def ahead(self, ticket: Ticket) -> int:
        """How many runs (running or waiting) are ahead of ``ticket``."""
        with self._lock:
            try:
                return self._tickets.index(ticket)
            except ValueError:
                return 0

    def leave(self, ticket: Ticket) -> None:
        """The run ended (finished, failed, cancelled or refused): free its place."""
        with self._lock:
            ticket.state = "done"
            if ticket in self._tickets:
                self._tickets.remove(ticket)

    def stop_running(self) -> int:
        """Ask the running run to stop (its handler ends it at its next update); returns how many were asked."""
        with self._lock:
            running = [ticket for ticket in self._tickets if ticket.state == "running"]
            for ticket in running:
                ticket.stop_requested = True
            return len(running)

    def clear_waiting(self) -> int:
        """Remove every waiting run (each handler ends with a message); returns how many."""
        with self._lock:
            waiting = [ticket for ticket in self._tickets if ticket.state == "waiting"]
            for ticket in waiting:
                ticket.removed = True
                self._tickets.remove(ticket)
                ticket.state = "done"
            return len(waiting)

    def snapshot(self) -> list[TicketView]:
        """The queue as it stands: the running run first, then the waiting ones in order."""
        with self._lock:
            now = self._clock()
            rows, place = [], 0
            for ticket in self._tickets:
                if ticket.state == "running":
                    rows.append(TicketView(0, "running", ticket.client.label(), ticket.kind, ticket.network,
                                           now - (ticket.started or now)))
                else:
                    place += 1
                    rows.append(TicketView(place, "waiting", ticket.client.label(), ticket.kind, ticket.network,
                                           now - ticket.created))
            return rows

    def __len__(self) -> int:
        with self._lock:
            return len(self._tickets)
