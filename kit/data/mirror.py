"""`kit model mirror`: copy a model's safetensors, config, tokenizer and generation config
(nothing else) from the hub or a local folder into the customer's bucket, with a manifest.

Pickle weights (*.bin, *.pt, ...) can run code when loaded: they are refused unless
--allow-pickle. A local folder needs no hub access at all. Unchanged files are skipped, so a
second mirror of the same revision moves nothing.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Mapping

from kit.data.transfer import SyncResult
from kit.errors import KitError

SAFE_WEIGHTS = ("*.safetensors", "*.safetensors.index.json")
PICKLE_WEIGHTS = ("pytorch_model*.bin", "model*.bin", "*.bin.index.json", "*.pt", "*.pth",
                  "*.ckpt")  # training_args.bin and the like are not weights: never mirrored
CONFIG = ("config.json", "generation_config.json")
# The one model-file allow-list: what a model needs to load and serve, pickle weights never
# (the local model store fetches with it; `select` below applies it to a hub listing).
TOKENIZER = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
             "added_tokens.json", "tokenizer.model", "spiece.model", "sentencepiece.bpe.model",
             "vocab.json", "vocab.txt", "merges.txt", "chat_template.jinja", "chat_template.json")
ALLOW_PATTERNS = [*SAFE_WEIGHTS, *CONFIG, *TOKENIZER]
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return "/" not in name and any(fnmatch.fnmatch(name, p) for p in patterns)


def select(names: list[str], model: str, allow_pickle: bool = False) -> list[str]:
    """The files worth mirroring out of a model's file list (top-level files only)."""
    safe = [n for n in names if _matches(n, SAFE_WEIGHTS)]
    pickle = [n for n in names if _matches(n, PICKLE_WEIGHTS)]
    if not any(n.endswith(".safetensors") for n in safe):
        if not pickle:
            raise KitError(f"{model}: no model weights (*.safetensors) found")
        if not allow_pickle:
            raise KitError(f"{model}: has only pickle weights ({', '.join(sorted(pickle)[:3])}); "
                           "loading pickle can run arbitrary code",
                           hint="use a safetensors revision of the model, or pass --allow-pickle "
                                "if you trust its publisher")
        safe = pickle
    if "config.json" not in names:
        raise KitError(f"{model}: no config.json", hint="is this a transformers model folder?")
    rest = [n for n in names if _matches(n, CONFIG + TOKENIZER)]
    return sorted(set(safe + rest))


def _local_source(folder: Path, allow_pickle: bool) -> tuple[Path, list[str], str]:
    names = [p.name for p in folder.iterdir() if p.is_file()]
    return folder, select(names, str(folder), allow_pickle), "local"


def _hub_source(repo_id: str, revision: str, allow_pickle: bool) -> tuple[Path, list[str], str]:
    """Resolve the revision to a commit, pick the files, and snapshot only those."""
    import huggingface_hub as hub
    from huggingface_hub import errors

    from kit.terminal import quiet_when_captured

    quiet_when_captured()

    # The hub client's transport errors (connection refused, timeouts) share the HTTP error's
    # bases (an httpx HTTPError); naming them through it keeps this independent of that module.
    transport = tuple(b for b in errors.HfHubHTTPError.__bases__ if issubclass(b, Exception))
    try:
        info = hub.HfApi().model_info(repo_id, revision=revision)
        names = [s.rfilename for s in info.siblings or []]
        chosen = select(names, f"{repo_id}@{revision}", allow_pickle)
        path = hub.snapshot_download(repo_id, revision=info.sha, allow_patterns=chosen)
    except (errors.RepositoryNotFoundError, errors.GatedRepoError) as exc:
        raise KitError(f"{repo_id}: not found or not accessible on the hub ({type(exc).__name__})",
                       hint="check the id; a gated model needs HF_TOKEN with access") from None
    except errors.RevisionNotFoundError:
        raise KitError(f"{repo_id}: no revision '{revision}' on the hub") from None
    except errors.OfflineModeIsEnabled:
        raise KitError(f"{repo_id}: the hub is off (HF_HUB_OFFLINE=1)",
                       hint="mirror from a machine that can reach the hub, or from a local folder"
                       ) from None
    except (errors.HfHubHTTPError, errors.LocalEntryNotFoundError, OSError, *transport) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise KitError(f"{repo_id}: cannot fetch from the hub: {first}",
                       hint="check network access to the hub (or HF_ENDPOINT), or mirror from a "
                            "local model folder") from None
    return Path(path), chosen, str(info.sha)


def mirror(model: str, dest: str, *, revision: str = "main", allow_pickle: bool = False,
           workers: int = 8, kms_key: str | None = None,
           owners: Mapping[str, str] | None = None) -> SyncResult:
    """Publish MODEL (hub id or local folder) to DEST with a model manifest, last (`owners`: the
    kit's buckets and the account that must own each, kit.data.storage.open_store)."""
    from kit.data.sync import sync

    folder = Path(model).expanduser()
    if folder.is_dir():
        root, chosen, resolved = _local_source(folder, allow_pickle)
    elif model.startswith((".", "/", "~")) or not _HUB_ID.match(model):
        raise KitError(f"{model}: no such model folder, and not a hub id like org/name")
    else:
        root, chosen, resolved = _hub_source(model, revision, allow_pickle)
    meta = {"source": model, "revision": resolved, "requested_revision": revision
            if not folder.is_dir() else None, "pickle": any(_matches(n, PICKLE_WEIGHTS) for n in chosen)}
    meta = {k: v for k, v in meta.items() if v is not None}
    return sync(str(root), dest, workers=workers, kms_key=kms_key,
                files={n: root / n for n in chosen}, kind="model", meta=meta, owners=owners)
