"""Fixtures: the values matrix rendered once per session with the real Helm engine, and
`kit render` of the example configs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from chartkit import EXAMPLES, MATRIX, NAMESPACE, TEST_IMAGES, case_values


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Every matrix case rendered once through kit.render.engine (real Helm)."""
    from kit.render.engine import render_chart

    out = {}
    for case in MATRIX:
        chart, values = case_values(case)
        out[case] = render_chart(chart, values, release="acme", namespace=NAMESPACE)
    return out


@pytest.fixture(scope="session")
def images_lock(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lock") / "images.json"
    path.write_text(json.dumps(TEST_IMAGES), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def example_renders(tmp_path_factory: pytest.TempPathFactory, images_lock: Path) -> dict[str, Path]:
    """`kit render` of every example config: example name -> output folder."""
    from click.testing import CliRunner

    from kit.commands.render import render

    outs = {}
    for example in ("kubernetes", "aws", "gcp", "azure"):
        work = tmp_path_factory.mktemp(f"example-{example}")
        shutil.copy(EXAMPLES / example / "kit.yaml", work / "kit.yaml")
        out = work / "rendered"
        result = CliRunner().invoke(render, ["-f", str(work / "kit.yaml"), "--out", str(out),
                                             "--images", str(images_lock)])
        assert result.exit_code == 0, result.output
        outs[example] = out
    return outs


