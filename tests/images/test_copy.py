"""kit.images.copy against a real registry with real skopeo: the copy keeps the digest the
lock pins, and a second copy (an immutable tag already there) is skipped, not an error."""

from __future__ import annotations

import json

import pytest

from kit.errors import KitError
from kit.images.copy import copy_image
from tests.images.conftest import sh

pytestmark = pytest.mark.images


@pytest.fixture(scope="module")
def upstream(tools, registry, tmp_path_factory) -> str:
    """A small two-layer image pushed to the loopback registry: repository@digest."""
    folder = tmp_path_factory.mktemp("tiny")
    (folder / "plugin").write_text("#!/bin/sh\necho nvidia.com/gpu\n")
    ctr = sh("buildah", "from", "scratch").stdout.strip()
    sh("buildah", "copy", ctr, str(folder / "plugin"), "/plugin")
    sh("buildah", "config", "--entrypoint", '["/plugin"]', ctr)
    sh("buildah", "commit", "--quiet", ctr, "localhost/kit-copy-test:1")
    sh("buildah", "rm", ctr)
    sh("buildah", "push", "--tls-verify=false", "localhost/kit-copy-test:1",
       f"docker://{registry}/nvidia/k8s-device-plugin:v1")
    digest = json.loads(sh("skopeo", "inspect", "--tls-verify=false",
                           f"docker://{registry}/nvidia/k8s-device-plugin:v1").stdout)["Digest"]
    return f"{registry}/nvidia/k8s-device-plugin@{digest}"


def test_the_copy_keeps_the_locked_digest_and_is_done_once(upstream, registry):
    dest = f"{registry}/acme/nvidia-device-plugin"
    assert copy_image(upstream, dest, "v1") is True
    copied = json.loads(sh("skopeo", "inspect", "--tls-verify=false", f"docker://{dest}:v1").stdout)
    assert copied["Digest"] == upstream.split("@")[1]
    assert copy_image(upstream, dest, "v1") is False        # already there: nothing to do


def test_a_source_that_does_not_exist_is_one_line(registry):
    with pytest.raises(KitError) as err:
        copy_image(f"{registry}/nvidia/missing@sha256:{'0' * 64}", f"{registry}/acme/missing", "v1")
    assert err.value.message.startswith(f"copy {registry}/nvidia/missing into {registry}/acme/missing failed: ")
    assert "\n" not in err.value.message
