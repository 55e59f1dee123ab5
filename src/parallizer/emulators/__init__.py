"""Loopback stand-ins of the remote APIs (Perplexity, OpenAI-compatible chat) for tests,
benchmarks and demos. `running("perplexity" | "llm", latency=..., fail_rate=...)` starts one
in the current event loop; `parallizer emulate` runs one from the command line."""

from .launch import build, running
from .server import (
    FAULT_KINDS,
    LLM_FORMATS,
    Emulator,
    EmulatorConfig,
    FaultRule,
    Latency,
    RequestRecord,
    Stats,
)

__all__ = [
    "FAULT_KINDS",
    "LLM_FORMATS",
    "Emulator",
    "EmulatorConfig",
    "FaultRule",
    "Latency",
    "RequestRecord",
    "Stats",
    "build",
    "running",
]
