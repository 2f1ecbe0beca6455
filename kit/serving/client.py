"""The only way the kit talks to a model server: huggingface_hub.InferenceClient.

TGI, vLLM and `transformers serve` all speak the OpenAI-compatible Messages API. The served
model name differs per engine (TGI answers to "tgi", the others to their model path), so it is
read from /v1/models rather than guessed.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Callable, Iterator

from kit.errors import KitError


def _get(url: str, api_key: str | None, timeout: float) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (loopback/internal)
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def is_healthy(endpoint: str, timeout: float = 2.0) -> bool:
    try:
        status, _ = _get(f"{endpoint}/health", None, timeout)
    except (OSError, urllib.error.URLError):
        return False
    return status == 200


def wait_healthy(endpoint: str, timeout_s: float, *, still_running: Callable[[], bool] | None = None,
                 interval: float = 0.5) -> None:
    """Poll /health until it answers 200; fail early if the server process has died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if is_healthy(endpoint):
            return
        if still_running is not None and not still_running():
            raise KitError(f"the server at {endpoint} exited before it became healthy",
                           hint="see its log with `kit logs --server`")
        time.sleep(interval)
    raise KitError(f"the server at {endpoint} did not become healthy within {timeout_s:.0f}s",
                   hint="see its log with `kit logs --server`")


def served_model(endpoint: str, api_key: str | None = None) -> str:
    """The model name the server answers to (first entry of /v1/models)."""
    try:
        status, body = _get(f"{endpoint}/v1/models", api_key, 10.0)
    except (OSError, urllib.error.URLError) as exc:
        raise KitError(f"cannot reach {endpoint}: {exc}", hint="is it up? try `kit status`") from None
    if status == 401:
        raise KitError(f"{endpoint} refused the API key", hint="check the key `kit status` shows")
    if status != 200:
        raise KitError(f"{endpoint}/v1/models answered HTTP {status}")
    models = json.loads(body or b"{}").get("data") or []
    if not models:
        raise KitError(f"{endpoint} serves no model yet")
    return str(models[0]["id"])


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP library's own error base (huggingface_hub uses httpx, or its fork httpx2):
    dropped connections and timeouts are not OSError there."""
    import importlib

    found: list[type[BaseException]] = [OSError]
    for name in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(name).HTTPError)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def chat(endpoint: str, messages: list[dict[str, str]], *, api_key: str | None = None,
         max_tokens: int = 256, temperature: float | None = None, seed: int | None = None,
         stream: bool = False) -> Iterator[str]:
    """Send a chat request; yield the reply (in pieces when streaming, else once)."""
    from huggingface_hub import InferenceClient
    from huggingface_hub.errors import HfHubHTTPError

    model = served_model(endpoint, api_key)
    client = InferenceClient(base_url=endpoint, api_key=api_key, timeout=300)
    try:
        result = client.chat_completion(messages=messages, model=model, max_tokens=max_tokens,
                                        temperature=temperature, seed=seed, stream=stream)
        if stream:
            for chunk in result:
                piece = chunk.choices[0].delta.content if chunk.choices else None
                if piece:
                    yield piece
        else:
            yield result.choices[0].message.content or ""
    except HfHubHTTPError as exc:
        raise KitError(f"{endpoint}: chat request failed: {str(exc).splitlines()[0]}") from None
    except _transport_errors() as exc:
        raise KitError(f"{endpoint}: connection failed: {' '.join(str(exc).split()) or type(exc).__name__}",
                       hint="see the server log (`kit logs --server`) or `kit status`") from None
