"""Preflight (`kit doctor`, and the first phase of `kit up` on a cluster): every missing
prerequisite at once, one line each with its fix, in seconds, creating nothing.

Each check is a small function returning a Check; they run in parallel on daemon threads
with a deadline, so an unreachable endpoint costs its timeout once and cannot hold the
process. Which checks run depends on the target (a table, not a class tree).
"""

from __future__ import annotations

import importlib.util
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from kit.errors import KitError

if TYPE_CHECKING:
    from kit.config import KitConfig

TIMEOUT_S = 6.0


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None

    def line(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        fix = f" -> {self.fix}" if self.fix and not self.ok else ""
        return f"{mark} {self.name}: {self.detail}{fix}"


def _boto_config():
    from botocore.config import Config

    return Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 1})


# --- the checks ----------------------------------------------------------------------------

def pulumi_cli(cfg: "KitConfig") -> Check:
    path = shutil.which("pulumi")
    if path is None:
        from kit.infra import INSTALL_HINT

        return Check("pulumi", False, "the Pulumi CLI is not on PATH", INSTALL_HINT)
    return Check("pulumi", True, path)


EXTRA_MODULES = {"kubernetes": ["kubernetes", "pulumi", "pulumi_kubernetes", "helm_python"],
                 "aws": ["kubernetes", "pulumi", "pulumi_kubernetes", "pulumi_aws", "boto3",
                         "helm_python"]}


def packages(cfg: "KitConfig") -> Check:
    missing = [m for m in EXTRA_MODULES[cfg.target] if importlib.util.find_spec(m) is None]
    if missing:
        return Check("python packages", False, f"missing {', '.join(missing)}",
                     f"pip install 'lima-kit[{cfg.target}]'")
    return Check("python packages", True, "installed")


def aws_identity(cfg: "KitConfig") -> Check:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        ident = boto3.client("sts", region_name=cfg.region, config=_boto_config()).get_caller_identity()
    except NoCredentialsError:
        return Check("aws credentials", False, "none found",
                     "`aws sso login` / `aws configure`, or set AWS_PROFILE")
    except (BotoCoreError, ClientError) as exc:
        return Check("aws credentials", False, " ".join(str(exc).split())[:160],
                     "refresh them: `aws sso login`, or check AWS_PROFILE")
    return Check("aws credentials", True, f"account {ident['Account']} as {ident['Arn']}")


# Quota names (Service Quotas, service "ec2") by instance family and capacity type; the most
# specific name that exists in the account's list wins.
QUOTA_NAMES = {("g", False): ["Running On-Demand G and VT instances"],
               ("g", True): ["All G and VT Spot Instance Requests"],
               ("p", False): ["Running On-Demand P instances"],
               ("p", True): ["All P5 Spot Instance Requests", "All P Spot Instance Requests"]}
SIZE_VCPUS = {"xlarge": 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32, "12xlarge": 48,
              "16xlarge": 64, "24xlarge": 96, "48xlarge": 192}


def gpu_need(cfg: "KitConfig") -> tuple[str, int]:
    """(smallest instance type of the GPU pool, vCPUs a full pool needs)."""
    from stacks.aws.gpu_pool import instance_types

    smallest = instance_types(cfg.gpu.type, cfg.gpu.count)[0]
    return smallest, SIZE_VCPUS[smallest.split(".", 1)[1]] * cfg.gpu.max_nodes


def gpu_quota(cfg: "KitConfig", client=None) -> Check:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        instance, need = gpu_need(cfg)
    except KitError as exc:
        return Check("gpu quota", False, exc.message, exc.hint)
    family = instance[0]
    try:
        client = client or boto3.client("service-quotas", region_name=cfg.region, config=_boto_config())
        quotas = {q["QuotaName"]: q for page in client.get_paginator("list_service_quotas")
                  .paginate(ServiceCode="ec2") for q in page["Quotas"]}
    except (BotoCoreError, ClientError) as exc:
        return Check("gpu quota", False, f"cannot read Service Quotas: {' '.join(str(exc).split())[:120]}",
                     "allow servicequotas:ListServiceQuotas, or check the quota in the console")
    wanted = QUOTA_NAMES[(family, cfg.gpu.spot)]
    quota = next((quotas[n] for n in wanted if n in quotas), None)
    if quota is None:
        return Check("gpu quota", False, f"no quota named {wanted[0]!r} in {cfg.region}",
                     "check EC2 quotas in the Service Quotas console")
    have = int(quota.get("Value", 0))
    what = f"{quota['QuotaName']}: {have} vCPUs; {cfg.gpu.max_nodes} x {instance} need {need}"
    if have < need:
        return Check("gpu quota", False, what,
                     f"aws service-quotas request-service-quota-increase --service-code ec2 "
                     f"--quota-code {quota['QuotaCode']} --desired-value {need} --region {cfg.region}")
    return Check("gpu quota", True, what)


def cluster(cfg: "KitConfig") -> Check:
    """The API server answers (target kubernetes; aws once `kit up` saved a kubeconfig)."""
    from kit.k8s import TIMEOUT, connect
    from kit.targets.cluster import saved_kubeconfig

    kubeconfig = saved_kubeconfig(cfg)
    if cfg.target != "kubernetes" and kubeconfig is None:
        return Check("cluster", True, "created by `kit up` (infra phase)")
    try:
        kube = connect(kubeconfig=kubeconfig, context=cfg.kubernetes.context,
                       namespace=cfg.kubernetes.namespace)
        kube.core.get_api_resources(_request_timeout=TIMEOUT)
    except KitError as exc:
        return Check("cluster", False, exc.message, exc.hint)
    except Exception as exc:
        return Check("cluster", False, f"the API server does not answer: {' '.join(str(exc).split())[:160]}",
                     "check the network path (VPN, operator_cidrs) and `kubectl cluster-info`")
    return Check("cluster", True, f"reachable ({cfg.kubernetes.context or 'current context'})")


def data_bucket(cfg: "KitConfig") -> Check:
    from kit.data import storage

    uri = cfg.data.uri
    if not storage.is_remote(uri):
        return Check("data", False, f"{uri} is on this machine; the cluster reads data from a bucket",
                     "upload it: kit data push PATH s3://bucket/prefix/ and set data.uri")
    try:
        first = next(iter(storage.open_store(uri, workers=1).list()), None)
    except KitError as exc:
        return Check("data", False, exc.message, exc.hint)
    except Exception as exc:
        return Check("data", False, f"{uri}: cannot list: {' '.join(str(exc).split())[:160]}",
                     "check the bucket name and that your credentials may read it")
    if first is None:
        return Check("data", False, f"{uri}: no objects there", "kit data push PATH " + uri)
    return Check("data", True, f"{uri} readable")


def images_lock(cfg: "KitConfig") -> Check:
    from kit.render.images import lock_path, resolve

    try:
        resolve(cfg.workdir, ["kit", "trainer", "proxy", cfg.serving.engine])
    except KitError as exc:
        return Check("images", False, exc.message, exc.hint)
    return Check("images", True, f"pinned by digest in {lock_path(cfg.workdir)}")


def model_source(cfg: "KitConfig") -> Check:
    from kit.render import cluster_for
    from kit.render.values import base_model_uri, data_uri

    try:
        data_uri(cfg)
        where = base_model_uri(cfg, cluster_for(cfg))
    except KitError as exc:
        return Check("config", False, exc.message, exc.hint)
    return Check("config", True, f"base weights from {where}")


def state_backend(cfg: "KitConfig") -> Check:
    url = cfg.state_url
    if url.startswith("file://"):
        parent = Path(url[len("file://"):])
        while not parent.exists():
            parent = parent.parent
        import os

        if not os.access(parent, os.W_OK):
            return Check("state", False, f"{url}: {parent} is not writable", "set state: in kit.yaml")
        return Check("state", True, url)
    if url.startswith("s3://"):
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        bucket = url[len("s3://"):].split("/", 1)[0]
        try:
            boto3.client("s3", region_name=cfg.region, config=_boto_config()).head_bucket(Bucket=bucket)
        except (BotoCoreError, ClientError) as exc:
            return Check("state", False, f"{url}: {' '.join(str(exc).split())[:140]}",
                         f"create it (private, versioned): aws s3 mb s3://{bucket}")
    return Check("state", True, url)


CHECKS: dict[str, list[Callable[["KitConfig"], Check]]] = {
    "kubernetes": [pulumi_cli, packages, model_source, images_lock, state_backend, cluster,
                   data_bucket],
    "aws": [pulumi_cli, packages, model_source, images_lock, state_backend, aws_identity,
            gpu_quota, cluster, data_bucket],
}


# What the checks import, loaded once before they run in parallel: two threads importing the
# same package for the first time can trip Python's import-lock deadlock detection.
PRELOAD = ("boto3", "botocore.config", "botocore.exceptions", "kit.render", "kit.render.images",
           "kit.render.values", "kit.data.storage", "kit.k8s", "kit.infra",
           "kit.targets.cluster", "stacks.aws.gpu_pool")


def _preload() -> None:
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # a missing extra is reported by the check that needs it


def run(cfg: "KitConfig", checks: list[Callable[["KitConfig"], Check]] | None = None,
        timeout_s: float = TIMEOUT_S) -> list[Check]:
    """Run the checks in parallel; one that has not answered by the deadline fails."""
    todo = checks if checks is not None else CHECKS[cfg.target]
    _preload()
    results: list[Check | None] = [None] * len(todo)

    def one(i: int, fn: Callable[["KitConfig"], Check]) -> None:
        name = fn.__name__.replace("_", " ")
        try:
            results[i] = fn(cfg)
        except KitError as exc:
            results[i] = Check(name, False, exc.message, exc.hint)
        except ImportError as exc:
            results[i] = Check(name, False, f"missing package {exc.name}",
                               f"pip install 'lima-kit[{cfg.target}]'")
        except Exception as exc:  # a check must never crash the report
            results[i] = Check(name, False, f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}")

    threads = [threading.Thread(target=one, args=(i, fn), daemon=True) for i, fn in enumerate(todo)]
    for t in threads:
        t.start()
    deadline = threading.Event()
    timer = threading.Timer(timeout_s, deadline.set)
    timer.daemon = True
    timer.start()
    for t in threads:
        while t.is_alive() and not deadline.is_set():
            t.join(0.05)
    timer.cancel()
    return [r if r is not None else
            Check(fn.__name__.replace("_", " "), False, f"no answer within {timeout_s:.0f}s",
                  "check network access to it")
            for r, fn in zip(results, todo)]


def require_ok(cfg: "KitConfig", console, checks: list[Check] | None = None) -> list[Check]:
    """Print the problems (one line each) and stop with one error if there are any."""
    results = checks if checks is not None else run(cfg)
    from rich.markup import escape

    bad = [c for c in results if not c.ok]
    for c in bad:
        fix = f" (fix: {escape(c.fix)})" if c.fix else ""
        console.print(f"  [red]✗[/] {escape(c.name)}: {escape(c.detail)}{fix}",
                      soft_wrap=True, markup=True, highlight=False)
    if bad:
        raise KitError(f"preflight: {len(bad)} problem(s) listed above; nothing was created",
                       hint="fix them, then run the command again (`kit doctor` checks again)")
    return results
