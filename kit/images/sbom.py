"""A software bill of materials of the Python environment it runs in, as CycloneDX 1.5 JSON:
every installed distribution with its version, licence and package URL. The image builds run
`python -m kit.images.sbom PATH` after installing, so each image carries the SBOM of exactly
what it holds (no network, no extra tool)."""

from __future__ import annotations

import json
import sys
import uuid
from datetime import datetime, timezone
from importlib import metadata


def components() -> list[dict]:
    seen: dict[str, dict] = {}
    for dist in metadata.distributions():
        name = dist.metadata.get("Name")
        if not name or name.lower() in seen:
            continue
        version = dist.version
        item = {"type": "library", "name": name, "version": version,
                "purl": f"pkg:pypi/{name.lower().replace('_', '-')}@{version}"}
        licence = dist.metadata.get("License-Expression") or dist.metadata.get("License")
        if licence and len(licence) < 100:
            item["licenses"] = [{"license": {"name": licence.strip()}}]
        seen[name.lower()] = item
    return sorted(seen.values(), key=lambda c: c["name"].lower())


def document() -> dict:
    from kit import __version__

    return {
        "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "metadata": {"timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "component": {"type": "container", "name": "lima-kit", "version": __version__},
                     "tools": [{"name": "kit.images.sbom"}]},
        "components": components(),
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m kit.images.sbom PATH", file=sys.stderr)
        return 2
    with open(args[0], "w", encoding="utf-8") as fh:
        json.dump(document(), fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
