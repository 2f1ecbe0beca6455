"""A real Helm engine, offline: the `helm` CLI when it is on PATH, else helm-python-sdk.

Both run Helm's own template engine and values-schema validation, so what the kit renders
is exactly what `helm install` of the same chart and values would create.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from kit.errors import KitError, require

# Helm's install order (pkg/release/util/kind_sorter.go), for the kinds these charts use.
KIND_ORDER = ["Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodDisruptionBudget",
              "ServiceAccount", "Secret", "ConfigMap", "PersistentVolumeClaim", "Service",
              "Deployment", "Job", "HorizontalPodAutoscaler"]


def charts_dir() -> Path:
    """The folder holding charts/finetune, charts/stage and charts/tgi (LIMA_KIT_CHARTS overrides)."""
    if os.environ.get("LIMA_KIT_CHARTS"):
        return Path(os.environ["LIMA_KIT_CHARTS"])
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "charts", here.parent.parent / "charts"):
        if (candidate / "tgi" / "Chart.yaml").exists():
            return candidate
    raise KitError(f"{here.parent.parent / 'charts'}: the kit's Helm charts are missing",
                   hint="set LIMA_KIT_CHARTS to the folder holding finetune/, stage/ and tgi/")


def sort_objects(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(obj: dict[str, Any]) -> tuple[int, str]:
        kind = obj.get("kind", "")
        rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
        return rank, obj.get("metadata", {}).get("name", "")
    return sorted(objects, key=key)


def _documents(text: str, source: str) -> list[dict[str, Any]]:
    try:
        docs = [d for d in yaml.safe_load_all(text) if d]
    except yaml.YAMLError as exc:
        raise KitError(f"{source}: rendered invalid YAML: {exc}") from None
    for doc in docs:
        if not isinstance(doc, dict) or "kind" not in doc:
            raise KitError(f"{source}: rendered something that is not a Kubernetes object")
    return docs


def _render_cli(helm: str, chart: Path, values: dict[str, Any], release: str,
                namespace: str) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="kit-render-") as tmp:
        values_file = Path(tmp) / "values.json"      # JSON is YAML: no quoting surprises
        values_file.write_text(json.dumps(values), encoding="utf-8")
        proc = subprocess.run(
            [helm, "template", release, str(chart), "--namespace", namespace,
             "--values", str(values_file)],
            capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        raise KitError(f"{chart}: helm template failed: {lines[-1] if lines else proc.returncode}")
    return _documents(proc.stdout, str(chart))


def _render_sdk(chart: Path, values: dict[str, Any], release: str,
                namespace: str) -> list[dict[str, Any]]:
    helm = require("helm_python", "render")
    try:
        with helm.Chart.load(str(chart)) as loaded:
            manifests = loaded.render(values, name=release, namespace=namespace, is_install=True)
    except helm.HelmError as exc:
        message = " ".join(str(exc).split())
        raise KitError(f"{chart}: {message}", hint="check the chart values") from None
    objects: list[dict[str, Any]] = []
    for path in sorted(manifests):
        if path.endswith((".yaml", ".yml")):
            objects.extend(_documents(manifests[path], path))
    return objects


def render_chart(chart: str | Path, values: dict[str, Any], *, release: str,
                 namespace: str) -> list[dict[str, Any]]:
    """Render one chart to Kubernetes objects (plain dicts), in Helm's install order."""
    path = Path(chart) if Path(chart).is_absolute() else charts_dir() / chart
    helm = shutil.which("helm")
    if helm:
        objects = _render_cli(helm, path, values, release, namespace)
    else:
        objects = _render_sdk(path, values, release, namespace)
    return sort_objects(objects)
