"""The stack's image copy (a dynamic resource run where `kit up` runs): skopeo's copy with an
ECR login for ECR, kept digest as its id, replaced when the lock moves, and never deleting an
image (it goes with its repository)."""

from __future__ import annotations

import pytest

DIGEST = "sha256:" + "e" * 64
SOURCE = f"registry.k8s.io/autoscaling/cluster-autoscaler@{DIGEST}"
DEST = "123456789012.dkr.ecr.us-east-1.amazonaws.com/acme-notes/k8s/autoscaling/cluster-autoscaler"


@pytest.fixture
def calls(monkeypatch):
    import kit.images.copy
    import stacks.aws.registry_login

    made: list = []
    monkeypatch.setattr(kit.images.copy, "copy_image",
                        lambda source, dest, tag, *, credentials: made.append(
                            (source, dest, tag, credentials)) or True)
    monkeypatch.setattr(stacks.aws.registry_login, "login", lambda registry: ("AWS", f"token:{registry}"))
    return made


def test_create_copies_at_the_locked_digest_with_an_ecr_login(calls):
    from stacks.cluster_layer.image_copy import _Copy

    result = _Copy().create({"source": SOURCE, "destination": DEST, "tag": "v1.33.0-eeeeeeeeeeee",
           "login": "stacks.aws.registry_login:login"})
    assert calls == [(SOURCE, DEST, "v1.33.0-eeeeeeeeeeee", ("AWS", f"token:{DEST}"))]
    assert result.id == f"{DEST}@{DIGEST}"


def test_a_new_digest_replaces_the_copy_and_delete_removes_nothing(calls):
    from stacks.cluster_layer.image_copy import _Copy

    old = {"source": SOURCE, "destination": DEST, "tag": "v1.33.0-eeeeeeeeeeee",
           "login": "stacks.aws.registry_login:login"}
    moved = {**old, "source": SOURCE.replace("e" * 64, "f" * 64), "tag": "v1.33.0-ffffffffffff"}
    diff = _Copy().diff("id", old, moved)
    assert diff.changes is True and sorted(diff.replaces) == ["source", "tag"]
    assert _Copy().diff("id", old, dict(old)).changes is False
    assert _Copy().delete("id", old) is None and calls == []


def test_remote_build_copies_its_base_into_ecr_before_building(tmp_path, monkeypatch):
    """The builder has no internet and no pull-through cache to fill: `kit images build
    --remote` copies the pinned base into the stack's ECR first, then builds FROM that copy."""
    import kit.images.build
    import kit.images.copy
    from kit.config import parse
    from kit.images.build import BuildRequest
    from kit.images.remote import remote_build
    from kit.jsonio import write_json
    from kit.render import cluster_for
    from tests.stacks.conftest import BASE

    registry = "123456789012.dkr.ecr.us-east-1.amazonaws.com/acme-notes"
    cfg = parse({**BASE, "aws": {"account_id": "123456789012"}}, base_dir=tmp_path)
    cfg.workdir.root.mkdir(parents=True, exist_ok=True)
    write_json(cfg.workdir.cluster_outputs, {"cloud": "aws", "cluster_name": "acme-notes",
                                             "artifacts_uri": "s3://a", "models_uri": "s3://m",
                                             "registry_prefix": registry})
    pinned = f"docker.io/pytorch/pytorch@{DIGEST}"
    copied, built = [], []

    class Stop(Exception):
        pass

    def prepare(request, folder, *, log):
        built.append(request.base)
        raise Stop

    monkeypatch.setattr(kit.images.build, "pinned_base", lambda ref: pinned)
    monkeypatch.setattr(kit.images.build, "prepare", prepare)
    monkeypatch.setattr(kit.images.copy, "copy_image", lambda source, dest, tag, *, credentials:
                        copied.append((source, dest, tag, credentials)) or True)
    monkeypatch.setattr("stacks.aws.registry_login.credentials", lambda c, r: ("AWS", "t"))
    with pytest.raises(Stop):
        remote_build(cfg, cluster_for(cfg), BuildRequest(name="trainer"), log=lambda _line: None)
    tag = "2.9.0-cuda12.8-cudnn9-runtime-" + "e" * 12      # the base's release, its digest
    assert copied == [(pinned, f"{registry}/docker-hub/pytorch/pytorch", tag, ("AWS", "t"))]
    assert built == [f"{registry}/docker-hub/pytorch/pytorch@{DIGEST}"]


def test_a_stack_made_before_the_copy_moved_can_still_unpickle_its_provider():
    """Pulumi stores a dynamic resource's provider pickled by reference; `kit down` of a stack
    made when the copy lived in stacks/aws/image_copy.py unpickles it by that name."""
    import pickle

    from stacks.cluster_layer.image_copy import _Copy

    # Protocol 0 names a class as text ("c<module>\n<name>\n"): the reference an old state holds.
    old_state = pickle.dumps(_Copy(), protocol=0).replace(b"stacks.cluster_layer.image_copy",
                                                          b"stacks.aws.image_copy")
    assert b"stacks.aws.image_copy" in old_state
    restored = pickle.loads(old_state)
    assert isinstance(restored, _Copy) and restored.delete("id", {}) is None
