"""`kit render` before `kit up` on AWS: S3's address ranges are the region's prefix list, which
only the stack reads, so the rendered storage policy allows no range wider than those (it
allows none until the stack's outputs exist) instead of 0.0.0.0/0:443."""

from __future__ import annotations

import json

import yaml

from tests.conftest import run_kit
from tests.stacks.conftest import BASE


def test_render_before_up_never_opens_storage_to_any_address(tmp_path):
    raw = json.loads(json.dumps(BASE))
    raw["aws"] = {"account_id": "123456789012"}
    (tmp_path / "kit.yaml").write_text(yaml.safe_dump(raw))
    out = run_kit("render", "-f", str(tmp_path / "kit.yaml"), "--out", str(tmp_path / "out"),
                  cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    platform = list(yaml.safe_load_all((tmp_path / "out" / "platform.yaml").read_text()))
    storage = next(o for o in platform if o and o["kind"] == "NetworkPolicy"
                   and o["metadata"]["name"] == "allow-storage")
    assert storage["spec"]["egress"] == []
    assert "once `kit up` has run" in storage["metadata"]["annotations"]["lima-kit.io/why"]
    rendered = "".join(p.read_text() for p in (tmp_path / "out").glob("*.yaml"))
    assert "0.0.0.0/0" not in rendered
