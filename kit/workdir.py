"""Every file the kit keeps for a deployment: `.kit/<name>/` beside kit.yaml, plus the two
folders deployments of one .kit/ share (the default Pulumi backend and the model store).
One object owns the names, so no module spells a path of another's.

    .kit/<name>/state.json          phase outcomes and facts (kit.pipeline.phases.DeploymentState)
    .kit/<name>/runs/<id>/run.json  one record per fine-tune run, every target (kit.pipeline.ledger)
    .kit/<name>/runs/<id>/...       local target: what the trainer writes
    .kit/<name>/server/             local target: the server's pidfile and log
    .kit/<name>/data/<hash>/        local target: a verified copy of bucket data
    .kit/<name>/cluster.json        cluster targets: the stack's outputs
    .kit/<name>/kubeconfig          cloud targets: the new cluster's kubeconfig (0600)
    .kit/<name>/images.json         images lock: name -> repository@sha256 (kit.images)
    .kit/<name>/pulumi-passphrase   file:// state: the secrets passphrase (0600)
    .kit/<name>/kit.lock            one `kit up`/`down` at a time (kit.deploy_lock)
    .kit/<name>/endpoint-ca/        the endpoint's private CA (ca.crt, ca.key 0600)
    .kit/models/                    staged base models, shared (local target)
    .kit/prices/<cloud>.json        price catalog `kit prices update` fetched, shared
    .kit/throughput.json            measured tokens/s of finished runs, shared (estimates)
    .kit/state/                     default Pulumi backend, shared (file://)
"""

from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

# Folders beside the deployments in .kit/: no deployment may take these names.
SHARED_STATE = "state"
SHARED_MODELS = "models"
SHARED_PRICES = "prices"
RESERVED_NAMES = (SHARED_STATE, SHARED_MODELS, SHARED_PRICES)


@dataclass(frozen=True)
class Workdir:
    kit_dir: Path   # <kit.yaml folder>/.kit
    name: str       # the deployment's name

    @property
    def root(self) -> Path:
        return self.kit_dir / self.name

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def server(self) -> Path:
        return self.root / "server"

    def staged_data(self, uri: str) -> Path:
        return self.root / "data" / hashlib.sha256(uri.encode()).hexdigest()[:16]

    @property
    def cluster_outputs(self) -> Path:
        return self.root / "cluster.json"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def images_lock(self) -> Path:
        return self.root / "images.json"

    @property
    def passphrase(self) -> Path:
        return self.root / "pulumi-passphrase"

    @property
    def endpoint_ca(self) -> Path:
        """The endpoint's private CA (ca.crt for clients, ca.key 0600): kept across `kit down`
        so clients that trust it keep working after the next `kit up`."""
        return self.root / "endpoint-ca"

    @property
    def lock(self) -> Path:
        return self.root / "kit.lock"

    @property
    def stack_export(self) -> Path:
        return self.root / "stack-export.json"

    @property
    def models(self) -> Path:
        return self.kit_dir / SHARED_MODELS

    @property
    def throughput(self) -> Path:
        """Measured training throughput of finished runs, shared (kit.estimate.throughput)."""
        return self.kit_dir / "throughput.json"

    @property
    def state_backend(self) -> Path:
        return self.kit_dir / SHARED_STATE

    def make_private(self) -> None:
        """.kit/ and this deployment's folder exist and are 0700 (the shared folders in .kit/
        are then private too: nobody else can enter .kit/)."""
        for folder in (self.kit_dir, self.root):
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o700)

    def exists(self) -> bool:
        return self.root.exists()

    def other_deployments(self) -> list[str]:
        """Names of the other deployments in the same .kit/ folder."""
        if not self.kit_dir.is_dir():
            return []
        return sorted(p.name for p in self.kit_dir.iterdir()
                      if p.is_dir() and p.name not in RESERVED_NAMES and p.name != self.name)

    def __str__(self) -> str:
        return str(self.root)


@contextmanager
def private_writes() -> Iterator[None]:
    """Inside: files this process (and any child it starts) creates are 0600 and folders 0700,
    whatever the user's umask (umask 077), the caller's umask back after. The one home of the
    kit's file modes: the deployment lock holds it (runs, models, logs, state), and so does
    every command that writes beside a run outside the lock (`kit eval`'s report,
    `kit bench`'s pages): they carry held-out examples, the customer's data."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def write_private(path: Path, text: str, *, exclusive: bool = False) -> None:
    """Write a secret file readable by its owner only (0600), whatever the umask."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
