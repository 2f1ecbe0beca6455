"""The only way the kit talks to a model server: huggingface_hub.InferenceClient.

TGI, vLLM and `transformers serve` all speak the OpenAI-compatible Messages API. The served
model name differs per engine (TGI answers to "tgi", the others to their model path), so it is
read from /v1/models rather than guessed.

A cluster endpoint is HTTPS only, with a certificate from the deployment's own CA: an
`Endpoint` carries that CA, and every request (health, models, chat) trusts it and nothing
else. Reached through a port-forward, the server answers on 127.0.0.1, so the name its
certificate must carry is given apart from the URL (TLS server name indication).
"""

from __future__ import annotations

import json
import ssl
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator

from kit.errors import KitError

# What huggingface_hub's InferenceClient sends as the model when its caller names none ("tgi"
# before 1.0, "dummy" since): every endpoint answers to these as to the deployment's name.
CLIENT_DEFAULT_MODELS = ("tgi", "dummy")

if TYPE_CHECKING:
    import httpx2
    from huggingface_hub import InferenceClient


@dataclass(frozen=True)
class Endpoint:
    """Where a model server answers, the key to call it with, and what to trust."""

    url: str
    api_key: str | None = None
    ca_pem: str | None = None        # trust only this CA; None: the system's trust store
    server_name: str | None = None   # the name to verify when `url` reaches the server otherwise

    def ssl_context(self) -> ssl.SSLContext:
        context = (ssl.create_default_context(cadata=self.ca_pem) if self.ca_pem
                   else ssl.create_default_context())
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def session(self) -> "httpx2.Client":
        """An HTTP client that verifies this endpoint as above. Only requests to this endpoint's
        origin get its trust and server name; any other URL keeps the default verification,
        so installing it as huggingface_hub's session (inference_client) changes nothing else.
        A redirect never carries the API key to another origin (httpx drops it)."""
        import httpx2

        origin = httpx2.URL(self.url)
        mine = httpx2.HTTPTransport(verify=self.ssl_context())
        hooks = []
        if self.server_name:
            name = self.server_name

            def verify_as(request: httpx2.Request) -> None:
                if (request.url.scheme, request.url.host, request.url.port) == \
                        (origin.scheme, origin.host, origin.port):
                    request.extensions["sni_hostname"] = name
            hooks.append(verify_as)
        base = f"{origin.scheme}://{origin.host}" + (f":{origin.port}" if origin.port else "")
        return httpx2.Client(mounts={base: mine}, event_hooks={"request": hooks},
                             follow_redirects=True, timeout=None)

    def inference_client(self, timeout: float) -> "InferenceClient":
        """huggingface_hub's client, its shared session able to reach this endpoint."""
        from huggingface_hub import InferenceClient, set_client_factory

        set_client_factory(self.session)
        return InferenceClient(base_url=self.url, api_key=self.api_key, timeout=timeout)


def _get(endpoint: Endpoint, path: str, timeout: float, *, with_key: bool) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {endpoint.api_key}"} if with_key and endpoint.api_key else {}
    with endpoint.session() as session:
        response = session.get(f"{endpoint.url}{path}", headers=headers, timeout=timeout)
        return response.status_code, response.content


def is_healthy(endpoint: Endpoint, timeout: float = 2.0) -> bool:
    try:
        status, _ = _get(endpoint, "/health", timeout, with_key=False)
    except _transport_errors():
        return False
    return status == 200


def wait_healthy(endpoint: Endpoint, timeout_s: float, *, still_running: Callable[[], bool] | None = None,
                 interval: float = 0.5) -> None:
    """Poll /health until it answers 200; fail early if the server process has died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if is_healthy(endpoint):
            return
        if still_running is not None and not still_running():
            raise KitError(f"the server at {endpoint.url} exited before it became healthy",
                           hint="see its log with `kit logs --server`")
        time.sleep(interval)
    raise KitError(f"the server at {endpoint.url} did not become healthy within {timeout_s:.0f}s",
                   hint="see its log with `kit logs --server`")


def served_model(endpoint: Endpoint) -> str:
    """The model name the server answers to (first entry of /v1/models)."""
    url = endpoint.url
    try:
        status, body = _get(endpoint, "/v1/models", 10.0, with_key=True)
    except _transport_errors() as exc:
        refused = _certificate_error(exc)
        if refused is not None:
            raise KitError(f"{url}: the server's certificate is not trusted: {refused}",
                           hint="the endpoint must present a certificate of the deployment's CA "
                                "(`kit status` shows which)") from None
        raise KitError(f"cannot reach {url}: {_one_line(exc)}",
                       hint="is it up? try `kit status`") from None
    if status == 401:
        raise KitError(f"{url} refused the API key", hint="check the key `kit status` shows")
    if status != 200:
        raise KitError(f"{url}/v1/models answered HTTP {status}")
    models = json.loads(body or b"{}").get("data") or []
    if not models:
        raise KitError(f"{url} serves no model yet")
    return str(models[0]["id"])


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP library's own error base (huggingface_hub uses httpx2): dropped connections,
    timeouts and TLS failures are not OSError there."""
    import httpx2

    return (OSError, httpx2.HTTPError)


def _certificate_error(exc: BaseException) -> str | None:
    """The verification failure behind a transport error (httpx2 wraps ssl's), if it is one."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen.verify_message or str(seen)
        seen = seen.__cause__ or seen.__context__
    return None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def chat(endpoint: Endpoint, messages: list[dict[str, str]], *, max_tokens: int = 256,
         temperature: float | None = None, seed: int | None = None,
         stream: bool = False) -> Iterator[str]:
    """Send a chat request; yield the reply (in pieces when streaming, else once)."""
    from huggingface_hub.errors import HfHubHTTPError

    model = served_model(endpoint)
    client = endpoint.inference_client(timeout=300)
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
        raise KitError(f"{endpoint.url}: chat request failed: {str(exc).splitlines()[0]}") from None
    except _transport_errors() as exc:
        raise KitError(f"{endpoint.url}: connection failed: {_one_line(exc)}",
                       hint="see the server log (`kit logs --server`) or `kit status`") from None
