"""`kit doctor`'s model check: may this machine read the base model from the hub?

The mirror phase of `kit up` downloads the base weights from the hub into the kit's models
bucket, after the infrastructure exists: a gated model (Llama, Gemma, ...) whose licence the
account has not accepted, or no token, fails there, 15-25 minutes and a bill later. One
authenticated HEAD of the model's config.json at its revision says so before anything is
created. It goes through huggingface_hub, as the mirror does, so HF_ENDPOINT (a mirror of the
hub) and HF_TOKEN (or the token `hf auth login` saved) count here exactly as they will there.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from stacks.clouds import Check

if TYPE_CHECKING:
    from kit.config import KitConfig

NAME = "model access"
HEAD_TIMEOUT_S = 4.0        # under preflight's deadline (kit.cluster.preflight.TIMEOUT_S)


def _hub_id(model_id: str) -> bool:
    from kit.data.storage import bucket_scheme

    return not (bucket_scheme(model_id) or "://" in model_id or
                model_id.startswith(("/", ".", "~", "demo:")))


def model_access(cfg: "KitConfig") -> Check:
    model, revision = cfg.model.id, cfg.model.revision
    if not _hub_id(model):
        return Check(NAME, True, f"{model}: not a hub id (the config check says where it is read)")
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url, try_to_load_from_cache
    from huggingface_hub.errors import HfHubHTTPError

    if constants.HF_HUB_OFFLINE:      # the mirror phase then reads this machine's hub cache only
        cached = try_to_load_from_cache(model, "config.json", revision=revision)
        if isinstance(cached, str):
            return Check(NAME, True, f"{model}@{revision}: in this machine's hub cache "
                                     "(HF_HUB_OFFLINE=1: the hub is not asked)")
        return Check(NAME, False, f"{model}@{revision}: HF_HUB_OFFLINE=1 and not in this "
                     "machine's hub cache, so the mirror phase could not read it",
                     "unset HF_HUB_OFFLINE, or download it here first (hf download MODEL)")

    endpoint = (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")
    url = hf_hub_url(model, "config.json", revision=revision, endpoint=endpoint)
    token = os.environ.get("HF_TOKEN") or None     # None: the token `hf auth login` saved, if any
    try:
        get_hf_file_metadata(url, token=token, timeout=HEAD_TIMEOUT_S, endpoint=endpoint)
    except HfHubHTTPError as exc:
        status = getattr(exc.response, "status_code", None)
        return denied(model, revision, endpoint, status, has_token=_has_token(token))
    except Exception as exc:      # no network, DNS, TLS: one line
        return Check(NAME, False, f"{endpoint}: cannot reach the hub for {model} "
                     f"({' '.join(str(exc).split())[:100] or type(exc).__name__})",
                     "check this machine's network, or set HF_ENDPOINT to the hub mirror you use")
    return Check(NAME, True, f"{model}@{revision}: readable from {endpoint}")


def denied(model: str, revision: str, endpoint: str, status: int | None, *, has_token: bool) -> Check:
    page = f"{endpoint}/{model}"
    if status in (401, 403):
        who = ("the account of the token in use has not been granted it" if has_token
               else "no token is set")
        return Check(NAME, False, f"{model}: the hub refused its files (HTTP {status}: gated or "
                     f"private; {who})",
                     f"accept the licence on the model page ({page}), signed in, then set "
                     "HF_TOKEN to a read token of that account")
    if status == 404:
        return Check(NAME, False, f"{model}@{revision}: not found on {endpoint} (no such model, "
                     "revision or config.json)", "check model.id and model.revision in kit.yaml")
    return Check(NAME, False, f"{model}: the hub answered HTTP {status}",
                 f"retry later, or check {endpoint}")


def _has_token(token: str | None) -> bool:
    if token:
        return True
    from huggingface_hub import get_token

    return bool(get_token())
