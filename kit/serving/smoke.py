"""Smoke test: one real chat round trip through the same client users call."""

from __future__ import annotations

import time
from dataclasses import dataclass

from kit.serving.client import Endpoint, chat


@dataclass
class SmokeResult:
    """A completed round trip. An empty `reply` is still a working server (the model chose to
    stop at once); the caller reports it as a warning."""

    reply: str
    latency_s: float

    @property
    def shown(self) -> str:
        """The reply on one line, quoted, cut at 70 characters and escaped for rich markup (a
        model may well write "[/INST]")."""
        from rich.markup import escape

        reply = " ".join(self.reply.split())
        return escape(repr((reply[:70] + "…") if len(reply) > 70 else reply))


def smoke_test(endpoint: Endpoint, prompt: str, *, system: str | None = None, max_tokens: int = 32) -> SmokeResult:
    started = time.monotonic()
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": prompt}]
    reply = "".join(chat(endpoint, messages, max_tokens=max_tokens, seed=0))
    return SmokeResult(reply=reply, latency_s=time.monotonic() - started)
