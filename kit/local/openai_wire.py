"""What the local front says on the wire, as pure functions: which requests it takes (Host,
Origin, method and path), how it caps a request's reply length, and how it reshapes the
engine's answers into OpenAI's (the deployment's name as `model`, OpenAI's error object,
`data: [DONE]` at the end of a stream).

OpenAI's shapes, as read on 2026-12-07:
- an error is `{"error": {"message", "type", "param", "code"}}` (type e.g.
  `invalid_request_error`, `server_error`; param and code nullable):
  https://api-docs.hatz.ai/reference/model/OpenAIError and the openai-python client, which reads
  `body["error"]` (https://community.openai.com/t/documentation-for-errors-in-api-requests/59740);
- a streamed chat or text completion is data-only server-sent events "terminated by a
  `data: [DONE]` message" (https://docs.rs/async-openai/0.9.1/async_openai/struct.Chat.html,
  after OpenAI's API reference for `stream`); the Responses API ends with its typed
  `response.completed` event instead, so it gets no [DONE].
"""

from __future__ import annotations

import json
from typing import Any

# (method, path) -> what the front does with it. Anything else is a 404 (405 for a known path
# with another method): never relayed, so the engine's /reset, /load_model and the rest are
# out of reach.
GENERATE = ("/v1/chat/completions", "/v1/completions", "/v1/responses")
RELAYED = {("POST", path) for path in GENERATE} | {("GET", "/health")}
ANSWERED = {("GET", "/v1/models")}
PATHS = {path for _, path in RELAYED | ANSWERED}

# Names a browser on this machine may use for the endpoint; a page of another site that
# rebinds its own name to 127.0.0.1 still sends that name, and is refused (DNS rebinding).
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")

# The request fields that bound a reply's length, per path; the first is set when none is sent.
LENGTH_FIELDS = {
    "/v1/chat/completions": ("max_tokens", "max_completion_tokens"),
    "/v1/completions": ("max_tokens",),
    "/v1/responses": ("max_output_tokens",),
}
DONE = b"data: [DONE]"


class Refusal(Exception):
    """A request the front answers itself, with an HTTP status and OpenAI's error object."""

    def __init__(self, status: int, message: str, *, param: str | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.param, self.code = status, param, code

    def body(self) -> dict[str, Any]:
        return error_body(self.status, str(self), param=self.param, code=self.code)


def error_body(status: int, message: str, *, param: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _loopback(authority: str) -> bool:
    """`name[:port]` names this machine's loopback (any port: an `ssh -L` forward keeps the
    name and changes the port)."""
    authority = authority.strip().lower()
    for name in LOOPBACK_NAMES:
        if authority == name or (authority.startswith(name + ":")
                                 and authority[len(name) + 1:].isdigit()):
            return True
    return False


def check_origin(host: str | None, origin: str | None) -> None:
    """Only requests addressed to a loopback name; a browser's cross-site request (Origin of
    another site) is refused too."""
    if not host or not _loopback(host):
        raise Refusal(403, f"Host {host!r} is not this endpoint: use http://127.0.0.1:PORT or "
                           "http://localhost:PORT", code="host_not_allowed")
    if origin is not None:
        scheme, _, authority = origin.partition("://")
        if scheme not in ("http", "https") or not _loopback(authority):
            raise Refusal(403, f"requests from the web page {origin!r} are not allowed",
                          code="origin_not_allowed")


def route(method: str, path: str) -> str:
    """`relay` or `answer` for a request the front takes; a Refusal for any other."""
    if (method, path) in RELAYED:
        return "relay"
    if (method, path) in ANSWERED:
        return "answer"
    if path in PATHS:
        raise Refusal(405, f"{method} {path} is not supported", code="method_not_allowed")
    raise Refusal(404, f"{path} is not served here (this endpoint serves "
                       f"{', '.join(sorted(PATHS))})", code="not_found")


def prepare(path: str, request: Any, *, name: str, model: str, extra_names: tuple[str, ...],
            max_new_tokens: int) -> dict[str, Any]:
    """The request the engine gets: the run's model, at most `max_new_tokens` per reply."""
    if not isinstance(request, dict):
        raise Refusal(400, "the request body must be a JSON object")
    asked = request.get("model")
    if asked not in (None, "", name, *extra_names):
        raise Refusal(404, f"model {asked!r} is not served here: this endpoint serves {name!r}",
                      param="model", code="model_not_found")
    if path == "/v1/chat/completions":
        messages = request.get("messages")
        if not isinstance(messages, list) or not messages:
            raise Refusal(400, "messages: a non-empty list of messages is required",
                          param="messages")
    fields = LENGTH_FIELDS[path]
    for field in fields:
        value = request.get(field)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise Refusal(400, f"{field}: {value!r} is not a positive integer", param=field)
        request[field] = min(value, max_new_tokens)
    if all(request.get(field) is None for field in fields):
        request[fields[0]] = max_new_tokens
    request["model"] = model
    return request


def named(payload: Any, name: str) -> Any:
    """An engine's answer with the deployment's name where it names the model (its folder)."""
    if isinstance(payload, dict):
        if isinstance(payload.get("model"), str):
            payload["model"] = name
        if isinstance(payload.get("response"), dict) and "model" in payload["response"]:
            payload["response"]["model"] = name        # Responses API events
    return payload


def _message(payload: Any, fallback: str) -> str:
    """The human text of an engine's error body, whatever its shape."""
    if isinstance(payload, dict):
        error = payload.get("error", payload.get("detail", payload.get("message")))
        if isinstance(error, dict):
            return str(error.get("message") or error.get("msg") or fallback)
        if isinstance(error, list):    # FastAPI validation: [{"loc": [...], "msg": ...}]
            return "; ".join(f"{'.'.join(str(p) for p in e.get('loc', [])[1:])}: {e.get('msg')}"
                             if isinstance(e, dict) else str(e) for e in error) or fallback
        if error:
            return str(error)
    return fallback


def error_from_engine(status: int, raw: bytes, *, name: str, model: str) -> dict[str, Any]:
    """Any error the engine answers, as OpenAI's error object (its folder never named)."""
    try:
        payload = json.loads(raw or b"null")
    except ValueError:
        payload = raw.decode("utf-8", "replace").strip()
    message = _message(payload, f"the model server answered HTTP {status}") if not \
        isinstance(payload, str) else (payload or f"the model server answered HTTP {status}")
    body = error_body(status, message.replace(model, name))
    inner = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(inner, dict):
        body["error"].update({k: inner[k] for k in ("type", "param", "code") if inner.get(k)})
    return body


def event_line(line: bytes, *, name: str, model: str) -> bytes:
    """One line of an event stream, reshaped: `data:` payloads name the deployment, and an
    error the engine streams becomes OpenAI's error object."""
    if not line.startswith(b"data:"):
        return line
    data = line[5:].strip()
    if data == b"[DONE]":
        return line
    try:
        payload = json.loads(data)
    except ValueError:
        return line
    if isinstance(payload, dict) and "error" in payload and not isinstance(payload["error"], dict):
        payload = error_body(500, _message(payload, "generation failed").replace(model, name))
    return b"data: " + json.dumps(named(payload, name)).encode() + line[len(line.rstrip(b"\r\n")):]
