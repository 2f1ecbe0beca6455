"""Plan output: JSON for machines, and for reviewers a table per concern (network, cluster,
nodes, storage, identity, registry, kubernetes) with every input flattened to one line and
IAM/bucket policies spelled out statement by statement."""

from __future__ import annotations

import json
from typing import Any

from kit.infra.plan import Plan

# (type-token prefix or "name:" + resource name prefix, concern); first match wins. Each
# cloud's own rows come from its CloudSupport.plan_concerns, between these two.
FIRST = [("pulumi:providers:", "providers")]
LAST = [("kubernetes:", "kubernetes")]
ORDER = ["network", "cluster", "nodes", "storage", "identity", "registry", "kubernetes",
         "providers", "other"]
_REDACT = {"kubeconfig"}


def concerns() -> list[tuple[str, str]]:
    from stacks.clouds import all_supports

    return FIRST + [row for s in all_supports() for row in s.plan_concerns] + LAST


def concern(resource: dict[str, Any], table: list[tuple[str, str]] | None = None) -> str:
    for key, name in table or concerns():
        if key.startswith("name:"):
            if resource["name"].startswith(key[5:]):
                return name
        elif resource["type"].startswith(key):
            return name
    return "other"


def clean(value: Any) -> Any:
    """Protobuf numbers arrive as floats: 1.0 -> 1. Secrets and kubeconfigs are hidden."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        if any(k == "4dabf18193072939515e22adb298388d" for k in value):  # Pulumi's secret marker
            return "[secret]"
        return {k: ("[redacted]" if k in _REDACT else clean(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def to_json(plan: Plan) -> dict[str, Any]:
    table = concerns()
    resources = [{"type": r["type"], "name": r["name"], "inputs": clean(r["inputs"]),
                  "protect": r["protect"], "retain_on_delete": r["retain_on_delete"],
                  "read": r["read"], "concern": concern(r, table),
                  **({"id": r["id"]} if r["read"] else {})}
                 for r in plan.resources]
    return {"stack": plan.stack, "resources": resources, "outputs": clean(plan.outputs)}


def _policy_lines(text: str) -> list[str] | None:
    try:
        doc = json.loads(text)
    except (TypeError, ValueError):
        return None
    if not isinstance(doc, dict) or "Statement" not in doc:
        return None
    lines = []
    for st in doc["Statement"]:
        actions = st.get("Action", [])
        actions = ", ".join(actions) if isinstance(actions, list) else actions
        res = st.get("Resource", "")
        res = ", ".join(res) if isinstance(res, list) else res
        who = st.get("Principal")
        who = f" for {json.dumps(who)}" if who else ""
        cond = f" if {json.dumps(st['Condition'])}" if "Condition" in st else ""
        on = f" on {res}" if res else ""
        lines.append(f"{st.get('Effect')} {actions}{on}{who}{cond}")
    return lines


def flatten(value: Any, prefix: str = "") -> list[str]:
    """Inputs as `path: value` lines; JSON policies become one line per statement."""
    if isinstance(value, dict):
        if not value:
            return [f"{prefix}: {{}}"] if prefix else []
        out = []
        for k, v in value.items():
            out += flatten(v, f"{prefix}.{k}" if prefix else k)
        return out
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        out = []
        for i, v in enumerate(value):
            out += flatten(v, f"{prefix}[{i}]")
        return out
    if isinstance(value, str):
        policy = _policy_lines(value)
        if policy is not None:
            return [f"{prefix}: {line}" for line in policy]
    text = json.dumps(value) if not isinstance(value, str) else value
    return [f"{prefix}: {text}"]


def _short_type(token: str) -> str:
    pkg, _, rest = token.partition(":")
    mod, _, kind = rest.partition(":")
    return f"{pkg}.{mod.split('/')[0]}.{kind}" if kind else token


def render_text(plan: Plan, console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    data = to_json(plan)
    groups: dict[str, list[dict]] = {}
    for r in sorted(data["resources"], key=lambda r: (r["type"], r["name"])):
        groups.setdefault(r["concern"], []).append(r)
    console.print(f"[bold]Plan for stack {plan.stack}[/bold]: {len(data['resources'])} resources "
                  f"(offline: {plan.placeholders})")
    for note in plan.outputs.get("notes") or []:  # accepted risks and outside requirements
        console.print(f"[bold yellow]note:[/bold yellow] {note}")
    for name in ORDER:
        rows = groups.get(name)
        if not rows:
            continue
        table = Table(title=f"{name} ({len(rows)})", title_justify="left", show_lines=True,
                      expand=True)
        table.add_column("resource", ratio=1)
        table.add_column("settings", overflow="fold", ratio=3)
        for r in rows:
            flags = [f for f, on in (("read only (get)", r["read"]), ("retain on delete",
                     r["retain_on_delete"]), ("protected", r["protect"])) if on]
            settings = r["inputs"] if not r["read"] else {"id": r.get("id")}
            head = f"{_short_type(r['type'])}\n[bold]{r['name']}[/bold]\n[dim]{', '.join(flags) or 'create'}[/dim]"
            table.add_row(head, "\n".join(sorted(flatten(settings))))
        console.print(table)


def operator_json(cfg: Any) -> dict[str, Any]:
    """What would stop `kit up` (from the config alone) and how the operator reaches what it
    talks to: plain data for `kit plan --output json`."""
    from dataclasses import asdict

    from kit.infra.blockers import blockers, reach

    return {"blockers": [b.to_dict() for b in blockers(cfg)],
            "operator_reach": [asdict(r) for r in reach(cfg)]}


def render_operator(data: dict[str, Any], console: Any = None) -> None:
    """Blockers first (each with its fix), then what is reachable and from where."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    for b in data["blockers"]:
        console.print(f"[bold red]BLOCKER[/] {escape(b['check'])}: {escape(b['detail'])}\n"
                      f"  fix: {escape(b['fix'])}", soft_wrap=True, highlight=False)
    if data["blockers"]:
        console.print(f"[red]`kit up` refuses while {len(data['blockers'])} blocker(s) stand.[/]")
    if not data["operator_reach"]:
        return
    table = Table(title="operator path (what `kit up` reaches from this machine)",
                  title_justify="left", expand=True)
    table.add_column("what", ratio=1)
    table.add_column("reachable from", overflow="fold", ratio=4)
    table.add_column("this machine", ratio=1)
    for r in data["operator_reach"]:
        state = ("yes" if r["open"] else "NO") if r["needed"] else "not needed"
        table.add_row(r["what"], escape(r["source"]), state)
    console.print(table)
