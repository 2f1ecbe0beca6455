"""The Pod Security Standard "restricted" profile, plus the kit's own pod rules, as checks.

Returns a list of violations (empty = compliant) so tests can also prove that a bad pod
spec is caught.
"""

from __future__ import annotations

import re
from typing import Any

# Volume types the "restricted" profile allows.
ALLOWED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                   "persistentVolumeClaim", "projected", "secret"}
DIGEST = re.compile(r"^[a-z0-9][a-z0-9._/:-]*@sha256:[a-f0-9]{64}$")


def violations(name: str, spec: dict[str, Any]) -> list[str]:
    out: list[str] = []
    pod_sc = spec.get("securityContext", {})
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(flag):
            out.append(f"{name}: {flag}")
    if pod_sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        out.append(f"{name}: pod seccompProfile is not RuntimeDefault")
    if spec.get("automountServiceAccountToken") is not False:
        out.append(f"{name}: service-account token is mounted")
    for volume in spec.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUMES:
            out.append(f"{name}: volume {volume['name']} uses {sorted(kinds - ALLOWED_VOLUMES)}")
    for c in spec.get("initContainers", []) + spec.get("containers", []):
        where = f"{name}/{c['name']}"
        sc = c.get("securityContext", {})
        non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        user = sc.get("runAsUser", pod_sc.get("runAsUser"))
        if non_root is not True:
            out.append(f"{where}: runAsNonRoot is not true")
        if user == 0:
            out.append(f"{where}: runAsUser 0")
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{where}: allowPrivilegeEscalation is not false")
        if sc.get("privileged"):
            out.append(f"{where}: privileged")
        caps = sc.get("capabilities", {})
        if caps.get("drop") != ["ALL"]:
            out.append(f"{where}: capabilities do not drop ALL")
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            out.append(f"{where}: adds capabilities {caps['add']}")
        seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {}))
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            out.append(f"{where}: seccompProfile not RuntimeDefault")
        if sc.get("readOnlyRootFilesystem") is not True:
            out.append(f"{where}: root filesystem is writable")
        for port in c.get("ports", []):
            if port.get("hostPort"):
                out.append(f"{where}: hostPort {port['hostPort']}")
        resources = c.get("resources", {})
        for part in ("requests", "limits"):
            for res in ("cpu", "memory"):
                if res not in resources.get(part, {}):
                    out.append(f"{where}: no {res} {part}")
        if not DIGEST.match(c.get("image", "")):
            out.append(f"{where}: image {c.get('image')!r} is not pinned by digest")
    return out
