"""Grants that take minutes to take effect: a Pulumi run that fails only because a role it
made seconds earlier is not yet honoured is run again after a wait, instead of failing
`kit up` halfway.

Azure RBAC: "it can take up to 10 minutes for changes to take effect" after a role is
assigned (https://learn.microsoft.com/en-us/azure/role-based-access-control/troubleshooting,
read 2026-12-07), and Key Vault's data plane the same ("up to 10 minutes (600 seconds)",
https://learn.microsoft.com/en-us/azure/key-vault/general/rbac-guide, read 2026-12-07). The
stack uses the roles it assigns (Key Vault Crypto Officer before the key, the cluster's
identity on its subnets and key before AKS, the operator's cluster admin before the first
Kubernetes object) within the same run: `depends_on` orders the calls but cannot wait for
propagation, and Pulumi has no sleep resource of its own. A rerun is safe: Pulumi keeps what
the failed run created and retries only what failed. Which errors mean "not yet" is the
cloud's (CloudSupport.propagation_errors); the waits add up to the documented 10 minutes, so
a grant that is really missing still fails, with its own error, once they are spent.
"""

from __future__ import annotations

import re

WAITS_S = (60, 120, 180, 240)


def propagating(message: str, patterns: tuple[str, ...]) -> bool:
    """Whether a failed run's error is one the cloud returns while a new grant propagates."""
    return any(re.search(p, message, re.IGNORECASE) for p in patterns)
