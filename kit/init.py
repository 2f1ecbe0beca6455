"""`kit init`: render a commented kit.yaml from a jinja2 template, validated before writing."""

from __future__ import annotations

import re
from pathlib import Path

from kit.errors import KitError


def write_config(path: Path, *, name: str | None, target: str, model: str, data: str,
                 method: str, region: str | None, force: bool = False) -> Path:
    import yaml
    from jinja2 import Environment, PackageLoader, StrictUndefined

    from kit.config import parse

    if path.exists() and not force:
        raise KitError(f"{path}: already exists", hint="pass --force to overwrite it")
    folder = path.resolve().parent
    name = name or re.sub(r"[^a-z0-9-]+", "-", folder.name.lower()).strip("-") or "kit"
    if not re.match(r"^[a-z]", name):
        name = f"kit-{name}"
    from stacks.clouds import REGISTRY, cloud_support

    support = None if target == "local" else cloud_support(target)
    region = region or (support.default_region if support else "")
    env = Environment(loader=PackageLoader("kit", "templates"), undefined=StrictUndefined,
                      keep_trailing_newline=True)
    text = env.get_template("kit.yaml.j2").render(
        name=name[:40], target=target, model=model, data=data, method=method, region=region,
        engine="transformers" if target == "local" else "tgi", max_length=2048, context=None,
        targets=" | ".join(("local", *REGISTRY)), needs_region=bool(support and support.needs_region),
        cloud_section=_from_environment(support.init_section.rstrip(), target) if support else "")
    parse(yaml.safe_load(text), source=str(path), base_dir=folder)  # never write a bad file
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
