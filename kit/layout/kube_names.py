"""The names of the Kubernetes objects the kit creates for a deployment called `name`: the
charts' releases (their objects and ServiceAccounts are named after them), the Secrets, the
volume snapshots. The render, the cluster target (which finds, waits on and deletes them by
these names) and the stacks (workload identity binds cloud roles to exactly these accounts)
all read them here."""

from __future__ import annotations

import hashlib

FINETUNE, SERVER, STAGE = "finetune", "server", "stage"   # the releases


def release_name(name: str, role: str) -> str:
    """Object name prefix of a release: <name>-finetune (the fine-tune Job), <name>-server,
    <name>-stage."""
    return f"{name}-{role}"


def finetune_job(name: str) -> str:
    """The fine-tune Job: one per deployment, so a new run replaces the finished one."""
    return release_name(name, FINETUNE)


def stage_job(name: str, run_id: str) -> str:
    """The Job that stages a run's model onto a volume: per run, short enough for a Job's 63
    characters whatever the run id (a digest of it)."""
    return f"{release_name(name, STAGE)}-" + hashlib.sha256(run_id.encode()).hexdigest()[:10]


def service_accounts(name: str) -> dict[str, str]:
    """The ServiceAccounts the charts create (their release names) that get a cloud identity:
    the trainer's, and the server's (on clusters with volume snapshots, the stage Job's)."""
    return {"trainer": release_name(name, FINETUNE), "server": release_name(name, SERVER)}


def engine_account(name: str) -> str:
    """The server's account where it reads no bucket (its model comes from a snapshot): no
    cloud identity."""
    return f"{name}-engine"


def api_keys_secret(name: str) -> str:
    """The Secret of API keys the server reads: created with generated keys at `kit up`."""
    return f"{name}-api-keys"


def tls_secret(name: str, own: str | None = None) -> str:
    """The kubernetes.io/tls Secret the server's proxy serves HTTPS with: the customer's own
    (serving.tls_secret), else one the kit issues from the deployment's CA at `kit up`."""
    return own or f"{name}-server-tls"


def endpoint_ca_secret(name: str) -> str:
    """The Secret holding the deployment's own CA, which issues the endpoint's certificate."""
    return f"{name}-endpoint-ca"


def model_snapshot(name: str, run_id: str) -> str:
    """The VolumeSnapshot holding a run's staged model (clusters with volume snapshots)."""
    return f"{name}-model-{run_id}"
