"""`kit init`: render a commented kit.yaml from a jinja2 template, validated before writing."""

from __future__ import annotations

import re
from pathlib import Path

from kit.errors import KitError


def write_config(path: Path, *, name: str | None, target: str, model: str, data: str,
                 method: str, region: str, force: bool = False) -> Path:
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
    env = Environment(loader=PackageLoader("kit", "templates"), undefined=StrictUndefined,
                      keep_trailing_newline=True)
    text = env.get_template("kit.yaml.j2").render(
        name=name[:40], target=target, model=model, data=data, method=method, region=region,
        engine="transformers" if target == "local" else "tgi", max_length=2048, context=None,
        targets=" | ".join(("local", *REGISTRY)), needs_region=bool(support and support.needs_region),
        cloud_section=support.init_section.rstrip() if support else "")
    parse(yaml.safe_load(text), source=str(path), base_dir=folder)  # never write a bad file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
