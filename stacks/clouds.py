"""The per-cloud seam: everything the rest of the kit needs to know about a place to run.

Each folder stacks/<cloud>/ (and stacks/kubernetes/ for an existing cluster) exports one
CloudSupport object from its __init__, built from plain data and "module:function" names that
are imported only when called: importing a support object never imports a cloud SDK, so
`kit --help`, `kit render` and the config checks stay fast and work without the extras.

Neutral code asks `cloud_support(cfg.target)` (kit.targets.support_for for any target, this
machine included) and never branches on a target's name: what a target can do is a field here,
and what it cannot do is a Lacks, the one-line error a command gives when asked for it. Adding a
cloud is one folder plus one line in REGISTRY below (docs/design.md says which files).
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, TypeVar, Union

from kit.errors import KitError

if TYPE_CHECKING:
    from kit.config import KitConfig
    from stacks.contract import ClusterOutputs

# target -> the package whose __init__ defines SUPPORT. One line per cloud.
REGISTRY: dict[str, str] = {
    "aws": "stacks.aws",
    "azure": "stacks.azure",
    "gcp": "stacks.gcp",
    "kubernetes": "stacks.kubernetes",
}


@dataclass
class Check:
    """One preflight result (`kit doctor`): what, whether it holds, and the fix if not."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None

    def line(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        fix = f" -> {self.fix}" if self.fix and not self.ok else ""
        return f"{mark} {self.name}: {self.detail}{fix}"


@dataclass(frozen=True)
class Egress:
    """An address every kit pod that talks to storage also needs (identity agents, APIs)."""

    cidr: str
    port: int
    why: str


@dataclass(frozen=True)
class GpuOffer:
    """One row of a cloud's GPU catalog: a GPU type at a GPU count per node."""

    gpu_type: str
    gpus: int
    machine_types: tuple[str, ...]  # several, so on-demand and spot find capacity; smallest first
    vcpus: int                      # of the smallest machine type (quota checks)
    memory_gib: int                 # of the smallest machine type
    # The GPU model the smallest machine type carries (kit/gpus.py: its peak and
    # memory), where the type alone is ambiguous ("" = the type's usual model).
    gpu_model: str = ""


@dataclass(frozen=True)
class Reach:
    """One thing the operator's machine talks to during `kit up` (the Pulumi run creates
    Kubernetes objects; the mirror phase pushes images and weights), and from where it admits
    the operator: `kit plan` shows these; a needed one that admits nobody outside the network
    is a blocker (kit.infra.blockers)."""

    what: str                  # "API server", "registry", "the kit's storage", "key vault"
    source: str                # where it admits the operator from, in words
    open: bool                 # the operator's machine can reach it as configured
    needed: bool = True        # `kit up` must reach it from the operator's machine
    fix: str = ""              # what opens it, when it is needed and closed


# The fix for an endpoint closed to the operator, the same on every cloud that filters by address.
OPERATOR_CIDRS_FIX = ("add this machine's public address to network.operator_cidrs in kit.yaml, "
                      "e.g. [\"A.B.C.D/32\"] (`curl -s https://api.ipify.org` prints it; "
                      "`kit init` proposes it)")


def cidrs_source(cfg: "KitConfig") -> str:
    """How an address-filtered endpoint admits the operator, in words."""
    cidrs = cfg.network.operator_cidrs
    return f"network.operator_cidrs only ({', '.join(cidrs)})" if cidrs else \
        "nowhere outside the network (private only; network.operator_cidrs is empty)"


def lazy(ref: str) -> Callable[..., Any]:
    """A function named "module:attr", imported on its first call (keeps SDKs off start-up)."""
    module, _, attr = ref.partition(":")

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), attr)(*args, **kwargs)

    call.__name__ = attr
    call.__qualname__ = ref
    return call


def _nothing(*_args: Any, **_kwargs: Any) -> Any:
    return None


def _no_checks(_cfg: "KitConfig") -> list:
    return []


def _no_lines(*_args: Any, **_kwargs: Any) -> list[str]:
    return []


def _no_reach(_cfg: "KitConfig") -> list:
    return []


def _no_adoptions(_cfg: "KitConfig", _deployment: dict[str, Any]) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Lacks:
    """What a target cannot do, in place of the function that would do it: the one-line error a
    command gives when asked for it ({target} is filled in), and what to do instead."""

    why: str
    hint: str = ""

    def error(self, target: str) -> KitError:
        return KitError(self.why.format(target=target), hint=self.hint.format(target=target) or None)


F = TypeVar("F")
# An optional ability of a target: the function that does it, or why the target cannot.
Ability = Union[F, Lacks]


@dataclass(frozen=True)
class CloudSupport:
    """What one target brings. Data first; behaviour as lazily imported functions."""

    target: str
    extra: str                                     # pip extra that installs its SDKs
    modules: tuple[str, ...]                       # Python modules that extra must provide
    # "module:function" of the Pulumi program part. Lacks: no stack, nothing to plan or destroy.
    build: Ability[str]
    # (KitConfig) -> ClusterOutputs before anything exists: the names the stack will really use.
    # Lacks: the kit runs no Kubernetes objects there, so nothing to render.
    default_outputs: Ability[Callable[["KitConfig"], "ClusterOutputs"]]
    # Its kit.yaml section (named after the target) as "module:Class" of a pydantic model; the
    # config imports it through the registry (kit.config), never by name. "": no section.
    options: str = ""
    # serving.engine: its default, and every engine the target accepts.
    default_engine: str = "tgi"
    engines: tuple[str, ...] = ("tgi", "vllm")
    demo_models: bool = False                      # model.id may name a demo model (kit.config)
    # The fine-tune runs on a pool of GPU nodes that gpu.* sizes, which `kit up` asks before it
    # pays for (full fine-tuning spreads over gpu.max_nodes). False: this machine, whose gpu.type
    # only names the part an estimate assumes.
    gpu_pool: bool = True
    # `kit up --detach`, `kit train --detach`: return once the fine-tune runs (`kit logs -F`
    # reattaches). Lacks: it trains in the foreground.
    detaches: Ability[bool] = True
    needs_region: bool = True                      # kit.yaml's region: is required
    # Options of its kit.yaml section this target cannot do without: (YAML path, what it is).
    required: tuple[tuple[str, str], ...] = ()
    creates_cluster: bool = True                   # False: an existing cluster (kubeconfig context)
    has_registry: bool = True                      # the stack makes a registry for the kit's images
    # How an upstream's mirror hangs off ClusterOutputs.registry_prefix: "/" (a path under it,
    # as ECR's pull-through prefixes) or "-" (a sibling repository <prefix>-<segment>, as
    # Artifact Registry's remote repositories, which cannot nest).
    mirror_join: str = "/"
    # True: no pull-through cache at all; `kit up` copies every locked upstream image (the
    # charts', the stack's own, the remote builder's bases) into the stack's registry at its
    # digest before anything references it (kit.images.copy), under the same paths.
    copies_upstreams: bool = False
    bucket_scheme: str = ""                        # data and kit buckets ("" = any bucket scheme)
    internal_lb: dict[str, str] = field(default_factory=dict)   # Service annotations: internal
    # The DNS domain the cloud names internal load balancers in, "{region}" filled in ("" when
    # it gives them an address instead): the endpoint's CA may sign names there and nowhere
    # else outside the cluster (a name constraint).
    internal_lb_domain: str = ""
    identity_annotation: str = ""                  # ServiceAccount annotation key
    identity_pod_labels: dict[str, str] = field(default_factory=dict)
    egress: tuple[Egress, ...] = ()
    # Why storage or identity needs HTTPS to public addresses ("" = private CIDRs suffice).
    https_anywhere: str = ""
    # Images the stack's own program runs (kit.images names), locked before `kit up` like the
    # charts' images; "device-plugin" here means the kit installs the NVIDIA device plugin.
    stack_images: tuple[str, ...] = ("device-plugin",)
    gpu_catalog: tuple[GpuOffer, ...] = ()
    # Pulumi state in this cloud's buckets: URL scheme and default secrets provider template
    # ({region} is kit.yaml's region).
    state_scheme: str = ""
    secrets_provider: str = ""
    state_check: Callable[["KitConfig"], Check | None] = _nothing
    # (cfg) -> the cloud's own check functions (credentials, quotas), each (cfg) -> Check.
    # Lacks: no `kit doctor` there.
    preflight: Ability[Callable[["KitConfig"], list[Callable[["KitConfig"], Check]]]] = _no_checks
    # (cfg) -> [Reach]: how the operator's machine reaches what `kit up` talks to (the API
    # server, registry, storage, key vault), from the config alone; plain data, no SDK import.
    operator_reach: Callable[["KitConfig"], list[Reach]] = _no_reach
    # Regexes of the errors the cloud returns while a grant made seconds earlier in the same
    # run is not yet honoured: the driver runs `up` again after a wait (kit.infra.propagation).
    propagation_errors: tuple[str, ...] = ()
    adopt: Callable[["KitConfig", dict[str, Any]], dict[str, str]] = _no_adoptions
    purge_kept: Callable[["KitConfig"], list[str]] = _no_lines
    # (cfg, saved cluster outputs, purge) -> lines about what is still tagged with the stack.
    leak_report: Callable[["KitConfig", dict[str, Any], bool], list[str]] = _no_lines
    # (*args) -> (bearer token, its expiry in UTC) from the cloud SDK's own credentials: the
    # token `kit cluster-token TARGET [ARGS...]` prints for the kubeconfig of a cluster the kit
    # created (kit/cluster/credential.py; AWS's ARGS: cluster name and region). Lacks: that
    # kubeconfig uses another way (an existing cluster's own context).
    cluster_token: Ability[Callable[..., tuple[str, Any]]] = Lacks(
        "target {target}: its kubeconfig does not use `kit cluster-token`",
        "use the credentials its kubeconfig context names")
    # (cfg, RemoteBuild, log) -> digest: the cloud's own builder (`kit images build --remote`).
    remote_build: Ability[Callable[..., str]] = Lacks(
        "target {target}: no image builder of the kit's own there",
        "build with a local engine: kit images build, then kit images push")
    # (cfg, registry) -> (username, password) for pushing the kit's images, or None.
    registry_login: Callable[["KitConfig", str], tuple[str, str] | None] = _nothing
    prices: str = ""                               # "package:file" of its dated price catalog
    # (cfg, instance types) -> catalog dict, from the cloud's price API (`kit prices update`).
    price_update: Ability[Callable[..., dict]] = Lacks(
        "target {target}: no cloud price catalog", "set gpu.usd_per_hour in kit.yaml to see costs")
    plan_mocks: str = ""                           # "module:Class" answering its data sources
    plan_concerns: tuple[tuple[str, str], ...] = ()  # (resource type prefix, concern) for reports
    # Its kit.yaml section as `kit init` writes it; {VARIABLE}s come from the environment.
    init_section: str = ""
    default_region: str = ""                       # `kit init`'s region when none is given

    def can(self, ability: Ability[Any]) -> bool:
        """Whether this target has the ability (one of its fields)."""
        return not isinstance(ability, Lacks)

    def use(self, ability: Ability[F]) -> F:
        """The ability (one of its fields), or the one-line error saying why this target lacks it."""
        if isinstance(ability, Lacks):
            raise ability.error(self.target)
        return ability

    @property
    def on_cluster(self) -> bool:
        """The kit runs on Kubernetes there, through a stack (False: on this machine)."""
        return self.can(self.build)

    def offers(self, gpu_type: str) -> list[GpuOffer]:
        return [o for o in self.gpu_catalog if o.gpu_type == gpu_type]

    def gpu_offer(self, gpu_type: str, count: int) -> GpuOffer:
        """The catalog row for gpu.type x gpu.count, or a one-line error listing what exists."""
        offers = self.offers(gpu_type)
        if not offers:
            have = sorted({o.gpu_type for o in self.gpu_catalog})
            raise KitError(f"gpu.type: {gpu_type} is not offered on {self.target}",
                           hint=f"{self.target} has {', '.join(have)}")
        for offer in offers:
            if offer.gpus == count:
                return offer
        counts = sorted(o.gpus for o in offers)
        raise KitError(f"gpu.count: {gpu_type} nodes on {self.target} come with {counts} GPUs, "
                       f"not {count}", hint=f"set gpu.count to one of {counts}")


def cloud_support(target: str) -> CloudSupport:
    """The support object of a cluster target (kit.targets.support_for: any target)."""
    ref = REGISTRY.get(target)
    if ref is None:
        raise KitError(f"target: {target} is not supported by this version of lima-kit",
                       hint=f"supported cluster targets: {', '.join(REGISTRY)}")
    return importlib.import_module(ref).SUPPORT


def all_supports() -> list[CloudSupport]:
    return [cloud_support(t) for t in REGISTRY]


def for_state(url: str) -> CloudSupport | None:
    """The cloud whose buckets hold Pulumi state at `url` (None: file:// or unknown)."""
    scheme = url.split("://", 1)[0]
    return next((s for s in all_supports() if s.state_scheme and s.state_scheme == scheme), None)


# Where the operator names a Pulumi secrets provider of their own (any state backend).
SECRETS_ENV = "LIMA_KIT_SECRETS_PROVIDER"


def secrets_provider(cfg: "KitConfig") -> str:
    """LIMA_KIT_SECRETS_PROVIDER, else a passphrase for file:// state, else the default of the
    cloud whose buckets hold the state."""
    if os.environ.get(SECRETS_ENV):
        return os.environ[SECRETS_ENV]
    scheme = cfg.state_url.split("://", 1)[0]
    if scheme == "file":
        return "passphrase"
    support = for_state(cfg.state_url)
    template = support.secrets_provider if support else None
    if not template:
        raise KitError(f"state: {cfg.state_url}: no default secrets provider for {scheme}:// state",
                       hint=f"set {SECRETS_ENV} to a Pulumi secrets provider URL, e.g. "
                            "gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K")
    # {region}, and any option of the cloud's kit.yaml section ({project} in gcp:).
    section = getattr(cfg, support.target, None)
    values = {**(section.model_dump() if section is not None else {}), "region": cfg.region}
    import string

    for _, key, _, _ in string.Formatter().parse(template):
        if key and not values.get(key):
            where = "region" if key == "region" else f"{support.target}.{key}"
            raise KitError(f"state: {cfg.state_url}: the state key's {key} is unknown",
                           hint=f"set {where} in kit.yaml, or {SECRETS_ENV}")
    return template.format(**values)
