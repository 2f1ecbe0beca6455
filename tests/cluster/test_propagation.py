"""A `kit up` whose Pulumi run fails only because a role it granted seconds earlier is not yet
honoured runs again after a wait, within Microsoft's documented propagation time (up to 10
minutes: https://learn.microsoft.com/en-us/azure/role-based-access-control/troubleshooting,
https://learn.microsoft.com/en-us/azure/key-vault/general/rbac-guide, read 2026-12-07); any
other failure, or one that outlasts the waits, fails at once with its own error."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from kit.errors import KitError
from kit.infra.propagation import WAITS_S
from tests.cluster.fakes import FakeStack, fake_access
from tests.stacks.azure.conftest import make_cfg as azure_cfg
from tests.stacks.conftest import make_cfg as aws_cfg

pytest.importorskip("pulumi")

# An engine error in the shape Key Vault gives when Azure RBAC denies a call (inner code
# ForbiddenByRbac): the key made before the operator's new Crypto Officer role is honoured.
RBAC = ("error: azure-native:keyvault:Key resource 'key': Status=403 Code=\"Forbidden\" "
        "Message=\"Caller is not authorized to perform action on resource. ... "
        "InnerError={\\\"code\\\":\\\"ForbiddenByRbac\\\"}\"")
OTHER = "error: azure-native:containerservice:ManagedCluster: Code=\"QuotaExceeded\""


class FlakyStack(FakeStack):
    """Fails its first `failures` ups with `message`, as the engine reports it."""

    def __init__(self, log, message: str, failures: int):
        super().__init__(log, outputs={"cloud": "azure", "cluster_name": "acme-notes"})
        self.message, self.failures = message, failures

    def up(self, on_event=None, **kw):
        if self.failures:
            from pulumi.automation._cmd import CommandResult
            from pulumi.automation.errors import CommandError

            self.failures -= 1
            self.log.append(("up failed",))
            raise CommandError(CommandResult(stdout="", stderr=self.message, code=255))
        return super().up(on_event=on_event, **kw)


@pytest.fixture
def slept(monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr("time.sleep", waits.append)
    return waits


def _up(cfg, stack):
    from kit.infra.driver import Infra

    out = io.StringIO()
    driver = Infra(cfg, Console(file=out, width=300), fake_access(cfg, stack))
    return driver, out


def test_a_grant_still_propagating_is_waited_for_then_up_runs_again(slept):
    log: list = []
    driver, out = _up(azure_cfg(), FlakyStack(log, RBAC, failures=2))
    driver.up()
    assert [e for e in log if e[0].startswith("up")] == [("up failed",), ("up failed",), ("up", "false")]
    assert slept == list(WAITS_S[:2])
    assert "a role this run granted is not in effect yet" in out.getvalue()


def test_a_grant_that_never_takes_effect_fails_once_the_documented_time_is_spent(slept):
    log: list = []
    driver, _ = _up(azure_cfg(), FlakyStack(log, RBAC, failures=99))
    with pytest.raises(KitError, match="ForbiddenByRbac"):
        driver.up()
    assert slept == list(WAITS_S) and sum(WAITS_S) == 600


def test_any_other_failure_is_not_retried(slept):
    driver, _ = _up(azure_cfg(), FlakyStack([], OTHER, failures=1))
    with pytest.raises(KitError, match="QuotaExceeded"):
        driver.up()
    assert slept == []


def test_a_cloud_without_propagating_grants_does_not_wait(slept):
    """AWS IAM is not given these patterns: the same text fails at once there."""
    driver, _ = _up(aws_cfg(), FlakyStack([], RBAC, failures=1))
    with pytest.raises(KitError):
        driver.up()
    assert slept == []
