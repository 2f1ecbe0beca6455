"""Smoke test: one real chat round trip through the same client users call; an empty reply
fails it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from kit.errors import KitError
from kit.serving.client import Endpoint, chat


@dataclass
class SmokeResult:
    """A completed round trip with a reply that is not empty."""

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
    latency = time.monotonic() - started
    if not reply.strip():       # a server that answers nothing is not serving the model's text
        raise KitError(f"smoke test: the endpoint answered serving.smoke_prompt with an empty "
                       f"reply{' (whitespace only)' if reply else ''} in {latency:.1f}s",
                       hint="the server runs but the model generates nothing: try `kit chat`, "
                            "see the run's evaluation with `kit eval`, or serve an earlier run "
                            "(`kit runs`, `kit serve --run ID`)")
    return SmokeResult(reply=reply, latency_s=latency)
