"""`kit init`: render a commented kit.yaml from a jinja2 template, validated before writing."""

from __future__ import annotations

import re
from pathlib import Path

from kit.errors import KitError

# Where `kit init` asks for this machine's public IPv4 address, to propose it as the operator's
# address (network.operator_cidrs): a cloud-neutral service answering the caller's address as
# plain text, IPv4 only (https://www.ipify.org). Nothing else is sent; a failure is soft.
ADDRESS_LOOKUP = "https://api.ipify.org"
LOOKUP_TIMEOUT_S = 3.0


def write_config(path: Path, *, name: str | None, target: str, model: str, data: str,
                 method: str, region: str | None, force: bool = False,
                 operator_cidrs: list[str] | None = None) -> Path:
    import yaml
    from jinja2 import Environment, PackageLoader, StrictUndefined

    from kit.config import GPU_TYPES, parse

    if path.exists() and not force:
        raise KitError(f"{path}: already exists", hint="pass --force to overwrite it")
    folder = path.resolve().parent
    name = name or re.sub(r"[^a-z0-9-]+", "-", folder.name.lower()).strip("-") or "kit"
    if not re.match(r"^[a-z]", name):
        name = f"kit-{name}"
    from kit.targets import names, support_for

    support = support_for(target)
    region = region or support.default_region
    # The GPU types this target offers, the smallest first (an existing cluster: any).
    offered = [o.gpu_type for o in sorted(support.gpu_catalog, key=lambda o: o.memory_gib)]
    gpu_types = list(dict.fromkeys(offered)) or list(GPU_TYPES)
    env = Environment(loader=PackageLoader("kit", "templates"), undefined=StrictUndefined,
                      keep_trailing_newline=True)

    def render(cidrs: list[str], note: str) -> str:
        return env.get_template("kit.yaml.j2").render(
            name=name[:40], target=target, model=model, data=data, method=method, region=region,
            engine=support.default_engine, max_length=2048, context=None,
            targets=" | ".join(names()), needs_region=support.needs_region,
            on_cluster=support.on_cluster,
            existing_cluster=support.on_cluster and not support.creates_cluster,
            operator_cidrs=cidrs, operator_note=note, gpu_type=gpu_types[0],
            gpu_types=" | ".join(gpu_types),
            cloud_section=_from_environment(support.init_section.rstrip(), target))

    note = "CIDRs allowed to reach the cluster API; empty = private only"
    text = render([], note)
    cfg = parse(yaml.safe_load(text), source=str(path), base_dir=folder)  # never write a bad file
    if support.creates_cluster:
        cidrs, note = ((operator_cidrs, "given to `kit init --operator-cidr`: the cluster's "
                        "operator endpoints admit only these") if operator_cidrs
                       else _operator_cidrs(cfg))
        text = render(cidrs, note)
        parse(yaml.safe_load(text), source=str(path), base_dir=folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _from_environment(section: str, target: str) -> str:
    """A cloud's kit.yaml section with its {VARIABLE}s filled from the environment (what the
    cloud's own tools set, e.g. GOOGLE_CLOUD_PROJECT): never a made-up value."""
    import os

    def value(match: re.Match) -> str:
        variable = match.group(1)
        if not os.environ.get(variable):
            raise KitError(f"kit init --target {target}: {variable} is not set, and kit.yaml needs it",
                           hint=f"export {variable}=... (the value for your account), then run it again")
        return os.environ[variable]

    return re.sub(r"\{([A-Z][A-Z0-9_]*)\}", value, section)


def public_address(url: str, timeout: float = LOOKUP_TIMEOUT_S) -> tuple[str | None, str]:
    """This machine's public IPv4 address as the service at `url` sees it: (address, "") or
    (None, why not). Never raises: no network, a slow or failing service, or an answer that is
    not a usable IPv4 address all come back as a reason."""
    import ipaddress
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (https URL)
            answer = resp.read(64).decode("ascii", "replace").strip()
    except Exception as exc:
        return None, " ".join(str(getattr(exc, "reason", exc)).split())[:80] or type(exc).__name__
    try:
        addr = ipaddress.IPv4Address(answer)
    except ValueError:
        return None, f"{url} answered {answer[:20]!r}, not an IPv4 address"
    if addr.is_loopback or addr.is_unspecified or addr.is_multicast or addr.is_link_local:
        return None, f"{url} answered {addr}, not a usable public address"
    return str(addr), ""


def _operator_cidrs(cfg) -> tuple[list[str], str]:
    """What `kit init` writes for network.operator_cidrs: nothing where the cloud offers the
    operator another path (GKE's IAM-authorised DNS endpoint); otherwise this machine's public
    address, or, when it cannot be looked up, an empty list and a comment saying how to fill
    it (`kit plan` then shows the blocker)."""
    from kit.infra.blockers import reach

    closed = [r.what for r in reach(cfg) if r.needed and not r.open]
    if not closed:
        return [], (f"none needed on {cfg.target} (`kit plan` shows how `kit up` reaches the "
                    "cluster); any listed here also open its API's IP endpoint to them")
    host = ADDRESS_LOOKUP.split("://")[-1].strip("/")
    addr, why = public_address(ADDRESS_LOOKUP)
    if addr is None:
        return [], (f"REQUIRED: this machine's public address could not be looked up ({why}): "
                    f"set it, e.g. [A.B.C.D/32] (`curl -s {ADDRESS_LOOKUP}`); "
                    f"{', '.join(closed)} admit only these")
    return [f"{addr}/32"], (f"this machine's public address as {host} saw it at `kit init`: "
                            f"{', '.join(closed)} admit only these")
