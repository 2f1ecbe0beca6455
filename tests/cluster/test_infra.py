"""The Pulumi driver (kit.infra.Infra) against a fake workspace: the real driver code runs;
only the stack underneath is fake."""

from __future__ import annotations

import io
import os
import stat

import pytest
from rich.console import Console

from kit.errors import KitError
from kit.infra.driver import Infra, secrets_provider, stack_env
from tests.cluster.fakes import FakeStack, fake_access

pytest.importorskip("pulumi.automation")


def infra(cfg, stack, *, which="/usr/bin/pulumi", confirm=False):
    out = io.StringIO()
    driver = Infra(cfg, Console(file=out, width=200),
                   fake_access(cfg, stack, which=which, confirm=confirm))
    return driver, out


def test_up_sets_the_stack_config_streams_progress_and_returns_outputs(aws_cfg):
    log = []
    stack = FakeStack(log, outputs={"cloud": "aws", "cluster_name": "acme-notes",
                                    "artifacts_uri": "s3://acme-notes-artifacts-1", "kubeconfig": "{}",
                                    "an_output_from_a_newer_stack": 1})
    driver, out = infra(aws_cfg, stack)
    outputs, changes = driver.up()
    assert log == [("config", "false"), ("up", "false")]
    assert stack.config["lima-kit:runId"] == ""          # workloads are not Pulumi's
    assert outputs.cluster_name == "acme-notes" and outputs.kubeconfig == "{}"
    assert changes == {"create": 1}
    assert "created aws:eks/cluster:Cluster cluster" in out.getvalue()
    assert "vpc" not in out.getvalue()                    # unchanged resources stay quiet


def test_destroy_keeps_buckets_unless_purge(aws_cfg):
    log = []
    driver, _ = infra(aws_cfg, FakeStack(log))
    driver.destroy(purge=False)
    assert log == [("config", "false"), ("destroy", "false")]


def test_purge_updates_retain_flags_before_destroy_then_removes_the_stack(aws_cfg):
    log = []
    driver, _ = infra(aws_cfg, FakeStack(log))
    done = driver.destroy(purge=True)
    assert log == [("config", "true"), ("up", "true"), ("destroy", "true"),
                   ("remove_stack", "acme-notes")]
    assert any("41 resource(s) deleted" in line for line in done)


PENDING = [{"type": "creating", "resource": {"urn": "urn:pulumi:acme-notes::lima-kit::aws:eks/nodeGroup:NodeGroup::gpu",
                                             "type": "aws:eks/nodeGroup:NodeGroup"}}]


def test_pending_operations_stop_with_exact_recovery_steps(aws_cfg):
    log = []
    driver, out = infra(aws_cfg, FakeStack(log, pending=PENDING))
    with pytest.raises(KitError, match="1 pending operation"):
        driver.up()
    text = out.getvalue()
    assert "aws:eks/nodeGroup:NodeGroup gpu" in text
    assert "pulumi stack export --stack organization/lima-kit/acme-notes" in text
    assert "pulumi stack import --stack organization/lima-kit/acme-notes" in text
    assert f"PULUMI_BACKEND_URL={aws_cfg.state_url}" in text
    assert "PULUMI_CONFIG_PASSPHRASE_FILE=" in text
    assert not any(entry[0] == "up" for entry in log)


def test_pending_operations_refreshed_when_the_user_agrees(aws_cfg):
    log = []
    driver, _ = infra(aws_cfg, FakeStack(log, pending=PENDING), confirm=True)
    driver.up()
    assert log == [("config", "false"), ("refresh", True), ("up", "false")]


def test_missing_cli_is_one_line_and_opens_nothing(aws_cfg):
    opened: list = []
    driver = Infra(aws_cfg, Console(file=io.StringIO()),
                   fake_access(aws_cfg, None, which=None, opened=opened))
    with pytest.raises(KitError) as err:
        driver.up()
    assert "Pulumi CLI is not installed" in err.value.one_line()
    assert "get.pulumi.com" in err.value.one_line()
    assert opened == [] and not aws_cfg.workdir.exists()


def test_a_locked_stack_says_how_to_cancel(aws_cfg):
    from pulumi.automation import errors
    from pulumi.automation._cmd import CommandResult

    failure = errors.ConcurrentUpdateError(CommandResult(
        stdout="", code=255, stderr="error: the stack is currently locked by 1 lock(s). Either wait "
        "for the other process(es) to end or delete the lock file with `pulumi cancel`."))
    driver, _ = infra(aws_cfg, FakeStack([], fail=failure))
    with pytest.raises(KitError) as err:
        driver.up()
    assert "another update holds the lock" in err.value.message
    assert "pulumi cancel --stack organization/lima-kit/acme-notes --yes" in err.value.hint


def test_local_state_gets_a_private_passphrase_file_once(aws_cfg):
    env = stack_env(aws_cfg, create=True)
    path = env["PULUMI_CONFIG_PASSPHRASE_FILE"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    first = open(path).read()
    assert len(first) >= 32 and stack_env(aws_cfg, create=True) == env
    assert open(path).read() == first


def test_a_passphrase_in_the_environment_wins(aws_cfg, monkeypatch):
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "s3cret")
    assert stack_env(aws_cfg, create=True) == {"PULUMI_CONFIG_PASSPHRASE": "s3cret"}
    assert not aws_cfg.workdir.passphrase.exists()


def test_secrets_provider_by_state_scheme(tmp_path):
    from tests.cluster.conftest import AWS, make

    assert secrets_provider(make(AWS, tmp_path)) == "passphrase"
    assert secrets_provider(make(AWS, tmp_path, state="s3://acme-kit-state")) == \
        "awskms://alias/lima-kit-state?region=us-east-1"
    # gs:// state names its key by project: a deployment elsewhere must say which.
    with pytest.raises(KitError) as err:
        secrets_provider(make(AWS, tmp_path, state="gs://acme-kit-state"))
    assert err.value.one_line() == ("state: gs://acme-kit-state: the state key's project is unknown "
                                    "(hint: set gcp.project in kit.yaml, or LIMA_KIT_SECRETS_PROVIDER)")
    with pytest.raises(KitError, match="no default secrets provider for oss:// state"):
        secrets_provider(make(AWS, tmp_path, state="oss://acme-kit-state"))


def test_recovery_steps_never_print_the_passphrase(aws_cfg, monkeypatch):
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "correct-horse-battery-staple")
    log = []
    driver, out = infra(aws_cfg, FakeStack(log, pending=PENDING))
    with pytest.raises(KitError):
        driver.up()
    text = out.getvalue()
    assert "correct-horse-battery-staple" not in text
    assert 'PULUMI_CONFIG_PASSPHRASE="$PULUMI_CONFIG_PASSPHRASE"' in text
