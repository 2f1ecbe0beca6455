"""`kit bench`: load-test the deployment's own endpoint and say how many users one replica serves.

At each concurrency level, up to N streaming chat requests go to the endpoint through the one
client (huggingface_hub.InferenceClient), at most `concurrency` in flight, each on its own
thread (the requests wait on the network, not the CPU). Every loop is bounded: a level sends at
most `requests` requests and starts none after `duration_s`; each request has a timeout. A
failed request is counted by kind and never retried. Tokens are counted as the streamed content
chunks (TGI, vLLM and `transformers serve` send one token per chunk).

The measurements fold into per-level statistics here (`summarise`); kit.serving.bench_report
prints and plots them.
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable

if TYPE_CHECKING:
    from kit.serving.client import Endpoint


@dataclass
class Sample:
    """One request: when its first token came, the gaps between tokens, how it ended."""

    ok: bool
    error: str | None = None          # connection, timeout, http-<status>, bad-response, empty, other:<type>
    ttft_s: float | None = None
    itl_s: list[float] = field(default_factory=list)
    e2e_s: float = 0.0
    output_tokens: int = 0


@dataclass
class Level:
    concurrency: int
    requests: int
    errors: dict[str, int]
    ttft_s: dict[str, float | None]   # p50, p95, p99
    itl_s: dict[str, float | None]    # p50, p95
    e2e_s: dict[str, float | None]    # p50, p95
    output_tokens_per_s: float
    requests_per_s: float
    wall_s: float

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failed": self.failed}


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return round(ordered[rank - 1], 4)


def summarise(concurrency: int, samples: list[Sample], wall_s: float) -> Level:
    ok = [s for s in samples if s.ok]
    errors: dict[str, int] = {}
    for s in samples:
        if not s.ok:
            errors[s.error or "other"] = errors.get(s.error or "other", 0) + 1
    ttft = [s.ttft_s for s in ok if s.ttft_s is not None]
    itl = [gap for s in ok for gap in s.itl_s]
    e2e = [s.e2e_s for s in ok]
    wall = max(wall_s, 1e-9)
    return Level(
        concurrency=concurrency, requests=len(samples), errors=errors,
        ttft_s={"p50": percentile(ttft, 50), "p95": percentile(ttft, 95), "p99": percentile(ttft, 99)},
        itl_s={"p50": percentile(itl, 50), "p95": percentile(itl, 95)},
        e2e_s={"p50": percentile(e2e, 50), "p95": percentile(e2e, 95)},
        output_tokens_per_s=round(sum(s.output_tokens for s in ok) / wall, 3),
        requests_per_s=round(len(ok) / wall, 3), wall_s=round(wall_s, 3))


def knee(levels: list[Level], slo_ttft_s: float) -> int | None:
    """The highest concurrency whose p95 time to first token stays within the SLO with no
    failed request (None when even the lowest level misses it)."""
    good = [lv.concurrency for lv in levels
            if lv.failed == 0 and lv.ttft_s["p95"] is not None and lv.ttft_s["p95"] <= slo_ttft_s]
    return max(good) if good else None


def error_kind(exc: BaseException) -> str:
    """A failed request's kind, from the client's exception classes (no message parsing)."""
    from huggingface_hub.errors import HfHubHTTPError

    from kit.serving.client import _transport_errors

    if isinstance(exc, HfHubHTTPError):
        status = getattr(getattr(exc, "response", None), "status_code", None)
        return f"http-{status}" if status else "http"
    if "timeout" in type(exc).__name__.lower():
        return "timeout"
    if isinstance(exc, _transport_errors()):
        return "connection"
    if isinstance(exc, ValueError):           # a cut or garbled event stream
        return "bad-response"
    return f"other:{type(exc).__name__}"


def stream_one(client: Any, model: str, messages: list[dict[str, str]], max_tokens: int,
               clock: Callable[[], float] = time.perf_counter) -> Sample:
    """One streaming chat request, timed."""
    start = clock()
    last = None
    sample = Sample(ok=False)
    try:
        for chunk in client.chat_completion(messages=messages, model=model, max_tokens=max_tokens,
                                            stream=True, temperature=0.0):
            piece = chunk.choices[0].delta.content if chunk.choices else None
            if not piece:
                continue
            now = clock()
            if last is None:
                sample.ttft_s = now - start
            else:
                sample.itl_s.append(now - last)
            last = now
            sample.output_tokens += 1
    except Exception as exc:  # noqa: BLE001 (a failed request is counted by kind, never retried)
        sample.error, sample.e2e_s = error_kind(exc), clock() - start
        return sample
    sample.e2e_s = clock() - start
    if sample.output_tokens == 0:
        sample.error = "empty"
        return sample
    sample.ok = True
    return sample


def run_level(send: Callable[[list[dict[str, str]]], Sample], prompts: list[list[dict[str, str]]],
              concurrency: int, requests: int, duration_s: float) -> Level:
    """Up to `requests` requests, `concurrency` at a time, none started after `duration_s`."""
    started = time.monotonic()
    stop_at = started + duration_s
    samples: list[Sample] = []
    lock = threading.Lock()
    issued = 0

    def next_prompt() -> list[dict[str, str]] | None:
        nonlocal issued
        with lock:
            if issued >= requests or time.monotonic() >= stop_at:
                return None
            prompt = prompts[issued % len(prompts)]
            issued += 1
            return prompt

    def worker() -> None:
        while (prompt := next_prompt()) is not None:
            result = send(prompt)
            with lock:
                samples.append(result)

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="kit-bench") as pool:
        for future in as_completed([pool.submit(worker) for _ in range(concurrency)]):
            future.result()
    return summarise(concurrency, samples, time.monotonic() - started)


def run(endpoint: Endpoint, prompts: Iterable[list[dict[str, str]]], *,
        levels: list[int], requests: int, duration_s: float, max_tokens: int,
        timeout_s: float = 120.0, on_level: Callable[[Level], None] = lambda _lv: None) -> list[Level]:
    """Every level in order against the endpoint; the model name asked of the endpoint once."""
    from kit.serving.client import served_model

    prompts = list(prompts)
    model = served_model(endpoint)
    client = endpoint.inference_client(timeout=timeout_s)
    out = []
    for concurrency in levels:
        level = run_level(lambda messages: stream_one(client, model, messages, max_tokens),
                          prompts, concurrency, requests, duration_s)
        on_level(level)
        out.append(level)
    return out
