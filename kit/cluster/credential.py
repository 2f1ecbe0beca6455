"""Cluster credentials without a cloud CLI: a kubeconfig whose exec plugin is the kit itself.

A cloud's kubeconfig usually runs that cloud's tool for a token (gcloud's auth plugin,
kubelogin). The clusters the kit creates instead run `kit cluster-token TARGET` (their
kubeconfig's user is stacks.contract.exec_user), which asks
the cloud's SDK credentials (CloudSupport.cluster_token) for a short-lived token: nothing to
install beyond the kit, and no token is ever written to the kubeconfig.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from stacks.contract import EXEC_API
from stacks.contract import TOKEN_COMMAND as COMMAND


def exec_credential(target: str, *args: str) -> str:
    """The ExecCredential JSON the exec plugin prints (token and its expiry)."""
    from stacks.clouds import cloud_support

    support = cloud_support(target)
    token, expires = support.use(support.cluster_token)(*args)
    return json.dumps({"apiVersion": EXEC_API, "kind": "ExecCredential",
                       "status": {"token": token,
                                  "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}})


def with_own_exec(kubeconfig: dict[str, Any]) -> dict[str, Any]:
    """The kubeconfig with its `kit` exec plugin run by this very kit (this interpreter, so the
    same install answers, even when `kit` is not on PATH, as with `.venv/bin/kit`)."""
    users = []
    for user in kubeconfig.get("users") or []:
        spec = (user.get("user") or {}).get("exec")
        if spec and spec.get("command") == "kit" and (spec.get("args") or [None])[0] == COMMAND:
            spec = {**spec, "command": sys.executable, "args": ["-m", "kit", *spec["args"]]}
            user = {**user, "user": {**user["user"], "exec": spec}}
        users.append(user)
    return {**kubeconfig, "users": users}
