"""kit.yaml: the one file a user writes. Schema, defaults (private, encrypted, no egress),
loading, and errors that name the file, line and YAML path with a "did you mean" hint."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

from kit import targets
from kit.config_infra import KubernetesConfig, LogsConfig, NetworkConfig, Section, StorageConfig, ipv4_cidrs
from kit.errors import KitError, KitErrors
from kit.gpus import GPU_TYPES
from kit.workdir import RESERVED_NAMES, Workdir

ENGINES = ("tgi", "vllm", "transformers")
DEMO_MODEL = "demo:tiny-llama"
# The demo models, built or converted on this machine (kit.local.model_store): local target only.
DEMO_MODELS = (DEMO_MODEL, "demo:smollm2-135m")


class ModelConfig(Section):
    id: str = Field(min_length=1, description="hub id, local path, bucket URI, or a demo model "
                                              "(demo:tiny-llama, demo:smollm2-135m)")
    revision: str = "main"


class DataConfig(Section):
    uri: str = Field(min_length=1, description="the customer's data: read, never written")
    # Likely PHI found in the data (kit.data.phi): refuse (an error: nothing trains on it) or
    # warn (listed by kind and place, then trained on). refuse on every target: a model
    # memorises what it trains on and the endpoint can repeat it, wherever it runs; a
    # deployment approved to train on PHI says so here, once, in the reviewed file.
    phi: Literal["refuse", "warn"] = "refuse"


class TrainingConfig(Section):
    """Settings left as None take the recipe's default for the chosen method."""

    method: Literal["lora", "qlora", "full"] = "lora"
    epochs: int | None = Field(default=None, ge=1, le=1000)
    max_length: int = Field(default=2048, ge=16, le=1_048_576)
    learning_rate: float | None = Field(default=None, gt=0, lt=1)
    min_learning_rate: float | None = Field(default=None, ge=0, lt=1)
    batch_size: int | None = Field(default=None, ge=1, le=4096)
    micro_batch_size: int | None = Field(default=None, ge=1, le=1024)
    weight_decay: float | None = Field(default=None, ge=0, le=1)
    warmup_ratio: float | None = Field(default=None, ge=0, le=1)
    lora_r: int | None = Field(default=None, ge=1, le=1024)
    lora_alpha: int | None = Field(default=None, ge=1, le=4096)
    lora_dropout: float | None = Field(default=None, ge=0, lt=1)
    eval_fraction: float | None = Field(default=None, ge=0, lt=0.5)
    packing: bool | None = None
    checkpoint_steps: int | None = Field(default=None, ge=1)
    # Which checkpoint the run keeps and serves: the lowest held-out loss (best) or the final step.
    select: Literal["best", "last"] | None = None
    seed: int = 42


class GpuConfig(Section):
    type: Literal[GPU_TYPES] = GPU_TYPES[0]  # type: ignore[valid-type]  # kit.gpus: the one GPU table
    count: int = Field(default=1, ge=1, le=16)
    max_nodes: int = Field(default=1, ge=1, le=64)
    spot: bool = False
    # What one GPU node costs an hour where no catalog knows it (your own cluster, your box).
    usd_per_hour: float | None = Field(default=None, ge=0, le=10_000)


class ServingConfig(Section):
    engine: Literal["tgi", "vllm", "transformers"] | None = None
    replicas: int = Field(default=1, ge=1, le=64)
    port: int = Field(default=8080, ge=1024, le=65535, description="local target: 127.0.0.1 port")
    max_new_tokens: int = Field(default=256, ge=1, le=65536)
    smoke_prompt: str = "Say hello in one short sentence."
    # Sent first by `kit chat` (unless --system) and by the smoke test: the one the data uses.
    system_prompt: str | None = None
    # Who may call the endpoint, enforced by the internal load balancer where the client's
    # address is still known. Default: the network's own private ranges.
    client_cidrs: list[str] | None = None
    # The endpoint is HTTPS only. By default the kit issues its certificate from a CA of the
    # deployment's own; tls_secret names a kubernetes.io/tls Secret of yours instead, and
    # tls_ca_file the CA bundle (a path beside kit.yaml) the kit's clients then trust
    # (default: the system's trust store).
    # Size of the volume each server replica restores the staged model onto (clusters with
    # volume snapshots): the merged model's weights plus room.
    model_volume_gi: int = Field(default=200, ge=1, le=65536)
    tls_secret: str | None = Field(default=None, pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
    tls_ca_file: str | None = None

    @model_validator(mode="after")
    def _ca_needs_secret(self) -> "ServingConfig":
        if self.tls_ca_file and not self.tls_secret:
            raise ValueError("tls_ca_file is for a certificate of yours (serving.tls_secret); "
                             "the kit's own CA is trusted without it")
        return self

    @field_validator("client_cidrs")
    @classmethod
    def _clients(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if not value:
                raise ValueError("empty: nobody could call the endpoint; leave it unset for the "
                                 "network's private ranges")
            ipv4_cidrs(value)
        return value


class EvalConfig(Section):
    """Held-out evaluation of every run (kit.trainer.evaluate) and the gate on rolling it out."""

    # A run whose tuned held-out loss exceeds max_loss_ratio x the base model's is recorded as
    # rejected and not served (`kit serve --run ID --force` overrides).
    gate: bool = True
    max_loss_ratio: float = Field(default=1.0, gt=0, le=100)
    # A fixed held-out set (file, folder or bucket URI, any data format): every run is judged
    # on the same examples, and none is split off the training data.
    uri: str | None = Field(default=None, min_length=1)
    # Greedy replies to this many held-out prompts, scored against their references (0: none).
    generate_examples: int = Field(default=8, ge=0, le=500)
    max_new_tokens: int = Field(default=96, ge=1, le=4096)

    def trainer_options(self) -> dict[str, int]:
        """What the trainer needs of it (spec.json "eval"): the generation limits."""
        return self.model_dump(include={"generate_examples", "max_new_tokens"})


# Every target the registry knows (kit.targets), local first.
TARGETS = targets.names()


class _Common(Section):
    """kit.yaml's sections every target shares; KitConfig adds each target's own (below)."""

    # Its validator is built once, for KitConfig, on first use (not for this base as well).
    model_config = ConfigDict(defer_build=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_NAMES:
            raise ValueError(f"{value!r} is reserved for the kit's own folders under .kit/; "
                             "choose another name")
        return value

    target: Literal[TARGETS] = "local"
    region: str | None = None
    state: str | None = None
    model: ModelConfig
    data: DataConfig
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    gpu: GpuConfig = Field(default_factory=GpuConfig)
    serving: ServingConfig = Field(default_factory=ServingConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    kubernetes: KubernetesConfig = Field(default_factory=KubernetesConfig)
    logs: LogsConfig = Field(default_factory=LogsConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    # Where the file was loaded from: relative paths in it resolve against this folder.
    base_dir: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, raw: Any) -> Any:
        """`aws:` with every key commented out reads as null: the same as leaving it out."""
        if isinstance(raw, dict):
            sections = {k for k, f in cls.model_fields.items()
                        if isinstance(f.annotation, type) and issubclass(f.annotation, BaseModel)}
            raw = {k: v for k, v in raw.items() if not (k in sections and v is None)}
        return raw

    @model_validator(mode="after")
    def _per_target(self) -> "KitConfig":
        problems: list[str] = []   # every rule broken, each "key.path: problem", one a line
        try:
            support = targets.support_for(self.target)
        except KitError:
            raise ValueError(f"target: {self.target} is not supported by this version of "
                             f"lima-kit (supported: {', '.join(targets.names())})") from None
        if self.serving.engine is None:
            self.serving.engine = support.default_engine
        if support.needs_region and not self.region:
            problems.append(f"region: required for target {self.target}")
        for path, what in support.required:
            section, _, key = path.partition(".")
            if getattr(getattr(self, section), key) in (None, ""):
                problems.append(f"{path}: required for target {self.target}: {what}")
        if support.on_cluster:
            problems += self.storage.problems(self.target, creates_cluster=support.creates_cluster)
        if self.serving.engine not in support.engines:
            problems.append(f"serving.engine: {self.serving.engine!r} is for target "
                            f"{_targets_with(lambda s: self.serving.engine in s.engines)}; use "
                            f"{' or '.join(support.engines)}")
        if self.model.id.startswith("demo:") and self.model.id not in DEMO_MODELS:
            problems.append(f"model.id: no demo model {self.model.id!r}; the demo models are "
                             f"{', '.join(DEMO_MODELS)}")
        if self.model.id in DEMO_MODELS and not support.demo_models:
            problems.append(f"model.id: {self.model.id} is a demo model for target "
                            f"{_targets_with(lambda s: s.demo_models)} only")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def workdir(self) -> Workdir:
        """The kit's own files for this deployment (runs, staged models, server state)."""
        return Workdir(self.base_dir / ".kit", self.name)

    @property
    def state_url(self) -> str:
        return self.state or self.workdir.state_backend.resolve().as_uri()

    def resolve_path(self, value: str) -> Path | None:
        """A plain path or file:// URI, resolved against the config's folder; None for buckets."""
        if value.startswith("file://"):
            return Path(value[len("file://"):])
        if re.match(r"^[a-z][a-z0-9+.-]*://", value):
            return None
        path = Path(value).expanduser()
        return path if path.is_absolute() else (self.base_dir / path)


def _targets_with(has: Any) -> str:
    """The targets whose support object passes `has`, for a message ("local", "a, b")."""
    return ", ".join(s.target for s in targets.all_targets() if has(s))


# kit.yaml: the shared sections, then each target's own (aws:, azure:, gcp:, ...), one per
# target that has options, named after it, from the registry: the config never names a cloud.
KitConfig = create_model("KitConfig", __base__=_Common, __module__=__name__,
                         **{target: (model, Field(default_factory=model))
                            for target, model in targets.sections().items()})


# --- loading -----------------------------------------------------------------------------


def _line_map(node: yaml.Node, path: tuple = (), out: dict | None = None) -> dict[tuple, int]:
    """YAML path -> 1-based line, from the composed node tree, so errors can cite lines."""
    out = {} if out is None else out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = path + (key.value,)
            out[sub] = key.start_mark.line + 1
            _line_map(value, sub, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, path + (i,), out)
    return out


def _fields_at(loc: tuple) -> list[str]:
    model: type[BaseModel] | None = KitConfig
    for part in loc:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return []
        annotation = model.model_fields[part].annotation
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return [f for f in (model.model_fields if model else {}) if f != "base_dir"]


def _describe(err: dict[str, Any], errors: list[dict[str, Any]] = ()) -> tuple[str, str | None]:
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        known = _fields_at(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
        return "unknown key", hint
    if kind == "missing":
        # A misspelt key beside it is the likely cause: name it.
        strays = [str(e["loc"][-1]) for e in errors
                  if e["type"] == "extra_forbidden" and tuple(e["loc"][:-1]) == loc[:-1]]
        close = difflib.get_close_matches(str(loc[-1]), strays, n=1)
        return "required key is missing", (f"is '{close[0]}' a misspelling of it?" if close else None)
    if kind == "literal_error":
        allowed = err.get("ctx", {}).get("expected", "")
        got = err.get("input")
        choices = re.findall(r"'([^']+)'", allowed)
        close = difflib.get_close_matches(str(got), choices, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"one of {allowed}"
        return f"{got!r} is not allowed", hint
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if "input" in err and kind not in ("value_error",) and not isinstance(err["input"], dict):
        msg = f"{msg}, got {err['input']!r}"
    return msg, None


def _problems(err: dict[str, Any], errors: list[dict[str, Any]], source: str,
              lines: dict) -> list[tuple[int, KitError]]:
    """(line, one-line error) of each problem in one validation error (a model-level rule
    reports all it found, one a line)."""
    error = (err.get("ctx") or {}).get("error")
    if isinstance(error, ValueError) and "\n" in str(error):
        return [_problem({**err, "ctx": {"error": ValueError(part)}}, errors, source, lines)
                for part in str(error).splitlines()]
    return [_problem(err, errors, source, lines)]


def _problem(err: dict[str, Any], errors: list[dict[str, Any]], source: str,
             lines: dict) -> tuple[int, KitError]:
    """(line, one-line error) of one validation error: `source:LINE: yaml.path: problem`."""
    loc = tuple(err["loc"])
    named = _named_key(err)
    if named is not None and named[0][:len(loc)] == loc:
        # a model-level rule: its message starts with the (full) key it is about
        loc, message, hint = named[0], named[1], None
    else:
        message, hint = _describe(err, errors)
    line = _nearest_line(lines, loc)
    where = f"{source}:{line}" if line else source
    dotted = ".".join(str(p) for p in loc) or "(top level)"
    return line or 0, KitError(f"{where}: {dotted}: {message}", hint=hint)


def parse(raw: Any, *, source: str = "kit.yaml", lines: dict | None = None,
          base_dir: Path = Path(".")) -> KitConfig:
    """Validate a loaded mapping; raise KitError naming the problem's file, line and YAML path,
    or KitErrors listing every problem (in file order) when there are several."""
    if not isinstance(raw, dict):
        raise KitError(f"{source}: the top level must be a mapping of keys", hint="see `kit init`")
    try:
        cfg = KitConfig.model_validate({**raw, "base_dir": base_dir})
    except ValidationError as exc:
        errors = exc.errors()
        found = sorted((problem for err in errors
                        for problem in _problems(err, errors, source, lines or {})),
                       key=lambda item: item[0])
        if len(found) == 1:
            raise found[0][1] from None
        raise KitErrors([problem for _, problem in found],
                        f"{source}: {len(found)} problems, one a line:") from None
    return cfg


def _named_key(err: dict[str, Any]) -> tuple[tuple, str] | None:
    """(key path, rest) when a rule's ValueError starts with the dotted key it is about."""
    error = (err.get("ctx") or {}).get("error")
    if not isinstance(error, ValueError):
        return None
    match = re.match(r"^([a-z_]+(?:\.[a-z_]+)*): (.+)$", str(error), re.S)
    return (tuple(match.group(1).split(".")), match.group(2)) if match else None


def _nearest_line(lines: dict, loc: tuple) -> int | None:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def load(path: str | Path) -> KitConfig:
    """Read and validate kit.yaml. Every failure is a one-line KitError."""
    path = Path(path)
    if not path.exists():
        raise KitError(f"{path}: no such file", hint="run `kit init` to write one, or pass -f PATH")
    if path.is_dir():
        raise KitError(f"{path}: is a folder, not a kit.yaml", hint="pass -f PATH/kit.yaml")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise KitError(f"{path}: not UTF-8 text") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise KitError(f"{where}: invalid YAML: {problem}") from None
    if raw is None:
        raise KitError(f"{path}: the file is empty", hint="run `kit init` to write one")
    lines = _line_map(node) if node is not None else {}
    return parse(raw, source=str(path), lines=lines, base_dir=path.resolve().parent)
