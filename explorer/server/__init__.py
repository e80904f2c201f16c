"""What a shared server needs beyond the app: settings from the environment, per-client limits, the disk budget.

Pure Python (no Gradio): the UI's handlers call into it (see :mod:`explorer.ui.limits`), and tests drive it with
fake clocks.
"""
from __future__ import annotations

from .disk import DiskBudget, DiskFull, format_bytes
from .limits import Client, LimitExceeded, RateLimiter, Ticket, TicketView, TrainingQueue, client_address
from .settings import ENV_VARS, ServerSettings, is_shared

__all__ = ["ENV_VARS", "Client", "DiskBudget", "DiskFull", "LimitExceeded", "RateLimiter", "ServerSettings",
           "Ticket", "TicketView", "TrainingQueue", "client_address", "format_bytes", "is_shared"]
