"""images/kit/Dockerfile: the slim staging image (storage extra only, non-root, sync entrypoint).
No container engine here: these read the file the way a reviewer would."""

from __future__ import annotations

import json
import re
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parents[2] / "images" / "kit" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def test_runtime_stage_is_non_root_with_the_sync_entrypoint():
    ops = instructions()
    runtime = ops[max(i for i, (op, _) in enumerate(ops) if op == "FROM"):]
    users = [rest for op, rest in runtime if op == "USER"]
    assert users and re.fullmatch(r"[1-9]\d*:[1-9]\d*", users[-1])  # numeric, not root
    entry = [rest for op, rest in runtime if op == "ENTRYPOINT"]
    assert json.loads(entry[-1]) == ["python", "-m", "kit.data.sync"]


def test_installs_only_the_storage_extra():
    from kit.images.build import RECIPES

    ops = instructions()
    runs = " ".join(rest for op, rest in ops if op == "RUN")
    assert {extras for _base, extras in RECIPES["kit"].flavours.values()} == {"storage"}
    # offline, from the wheelhouse, every file checked against the hash lock
    assert "--no-index --find-links /wheels --require-hashes -r /wheels/requirements.txt" in " ".join(runs.split())
    for heavy in ("torch", "transformers", "pulumi", "[train]", "[dev]"):
        assert heavy not in runs
