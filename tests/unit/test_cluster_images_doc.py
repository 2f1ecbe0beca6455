"""docs/cluster.md lists, per cloud, every image a cluster of the kit pulls and where it comes
from (issue 23). This keeps that list true to the code: every image of kit.images' table the
cluster runs on that cloud (the kit's own, the API-key proxy, both serving engines, the stack's
own images of CloudSupport.stack_images) is named in the cloud's section with its upstream
repository and the path the cluster pulls it from (kit.images.through_mirror under `<prefix>`),
and a cloud whose registry copies every upstream names no pull-through cache as their source."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kit.images import IMAGES, KIT_IMAGES, through_mirror
from stacks.clouds import cloud_support

DOC = Path(__file__).resolve().parents[2] / "docs" / "cluster.md"
HEADINGS = {"aws": "### AWS: images", "gcp": "### GCP: images", "azure": "### Azure: images"}


def section(cloud: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(HEADINGS[cloud])
    nxt = re.search(r"^##", text[start + 3:], flags=re.M)
    return text[start: start + 3 + nxt.start()] if nxt else text[start:]


def rows(body: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in body.splitlines() if line.startswith("| ") and not line.startswith("| image |")]


def used_on(cloud: str) -> list[str]:
    """The kit.images names a cluster of that cloud runs: the charts' and the stack's own."""
    return ["kit", "trainer", "proxy", "tgi", "vllm", *cloud_support(cloud).stack_images]


@pytest.mark.parametrize("cloud", sorted(HEADINGS))
def test_the_image_list_names_every_image_the_cluster_runs_and_where_it_is_pulled(cloud):
    body = section(cloud)
    table = rows(body)
    assert table, f"docs/cluster.md: {HEADINGS[cloud]} has no image table"
    for name in used_on(cloud):
        image = IMAGES[name]
        path = through_mirror(f"{image.repository}:{image.tag}", "<prefix>").rsplit(":", 1)[0]
        row = [r for r in table if f"`{path}`" in r[-1]]
        assert row, f"{cloud}: {name} is not listed as pulled from `{path}`"
        if name not in KIT_IMAGES:
            assert image.repository in row[0][1], f"{cloud}: {name}'s source {image.repository} not named"


@pytest.mark.parametrize("cloud", sorted(HEADINGS))
def test_where_every_upstream_is_copied_no_cache_serves_the_kits_images(cloud):
    assert cloud_support(cloud).copies_upstreams
    for row in rows(section(cloud)):
        if any(IMAGES[n].repository in row[1] for n in used_on(cloud) if n not in KIT_IMAGES):
            assert row[-1].startswith("copied by"), row
