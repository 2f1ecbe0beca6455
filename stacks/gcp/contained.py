"""`kit doctor` (and `kit up`, which runs it first) on GCP containment: the service perimeter
the project must be in (gcp.service_perimeter), and an existing network (gcp.network) that
must give the kit's nodes no way to the internet the kit's own firewall rules would not stop.

Each check is a pure function of the API's answers (tests feed it recorded shapes) plus a thin
caller that fetches them.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from kit.errors import KitError
from stacks.clouds import Check

if TYPE_CHECKING:
    from kit.config import KitConfig

ACM_URL = "https://accesscontextmanager.googleapis.com/v1/{name}"
PROJECT_URL = "https://cloudresourcemanager.googleapis.com/v1/projects/{project}"
COMPUTE = "https://compute.googleapis.com/compute/v1/projects/{project}"
ROUTES_URL = COMPUTE + "/global/routes?filter=network%3D%22{network}%22&maxResults=500"
EFFECTIVE_URL = COMPUTE + "/global/networks/{name}/getEffectiveFirewalls"
DNS_POLICIES_URL = "https://dns.googleapis.com/dns/v1/projects/{project}/policies"
# The kit's own egress denial (stacks/gcp/network.py): an allow rule of a lower number wins.
KIT_DENY_PRIORITY = 200
# Public ranges the kit's nodes may reach: Google APIs on the restricted VIP.
RESTRICTED_VIP = ipaddress.ip_network("199.36.153.4/30")
PRIVATE = [ipaddress.ip_network(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                            "100.64.0.0/10", "169.254.0.0/16", "127.0.0.0/8")]


def _api(cfg: "KitConfig") -> Any:
    from stacks.gcp.api import GoogleApi

    return GoogleApi(cfg)


def public(cidr: str) -> bool:
    """Whether a destination range holds any address outside private space and the VIP."""
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return True                      # a shape we cannot read: treat as the internet
    if net.version == 6:
        return not (net.is_private or net.is_link_local)
    return not any(net.subnet_of(p) for p in [*PRIVATE, RESTRICTED_VIP])


# --- the perimeter ------------------------------------------------------------------------------


def perimeter(cfg: "KitConfig") -> Check:
    from stacks.gcp.perimeter import RESTRICTED_SERVICES, perimeter_id, require

    opts = cfg.gcp
    try:
        require(opts)
    except KitError as exc:
        return Check("gcp perimeter", False, exc.message, exc.hint)
    if opts.accept_no_perimeter:
        return Check("gcp perimeter", True, f"none: risk accepted ({opts.accept_no_perimeter})")
    from stacks.gcp.storage import parse_gs_uri

    try:
        api = _api(cfg)
        numbers = [_number(api, p) for p in dict.fromkeys([opts.project, opts.data_project]) if p]
        bucket = parse_gs_uri(cfg.data.uri)[0]
        data = data_project_check(bucket, api.bucket_project_number(bucket), numbers)
        if data is not None:
            return data
        if opts.access_policy:
            return Check("gcp perimeter", True, f"the kit creates accessPolicies/{opts.access_policy}/"
                         f"servicePerimeters/{perimeter_id(cfg.name)} around projects "
                         f"{', '.join(numbers)} ({', '.join(RESTRICTED_SERVICES)})")
        found = api.get(ACM_URL.format(name=opts.service_perimeter))
    except KitError as exc:
        return Check("gcp perimeter", False, exc.message, exc.hint)
    return perimeter_check(opts.service_perimeter or "", found, numbers)


def data_project_check(bucket: str, number: str | None, numbers: list[str]) -> Check | None:
    """The data bucket's project must be one the perimeter holds (gcp.project or
    gcp.data_project): the trainer inside could not read it otherwise, and nothing else should
    be reachable. None when it is (or when there is no such bucket: the data check says so)."""
    if number is None or number in numbers:
        return None
    return Check("gcp perimeter", False,
                 f"gs://{bucket} belongs to project number {number}, outside the perimeter "
                 f"(projects {', '.join(numbers)})",
                 "set gcp.data_project to the bucket's project (the perimeter then holds it), or "
                 "copy the data into a bucket of gcp.project")


def _number(api: Any, project: str) -> str:
    found = api.get(PROJECT_URL.format(project=project))
    if found is None:
        raise KitError(f"gcp perimeter: project {project} not found", hint="check gcp.project and gcp.data_project")
    return str(found.get("projectNumber"))


def perimeter_check(name: str, found: dict[str, Any] | None, numbers: list[str]) -> Check:
    """The perimeter exists, is enforced (status, not only a dry-run spec), holds every project
    number in `numbers` (the kit's and the data's) and restricts the kit's services."""
    from stacks.gcp.perimeter import RESTRICTED_SERVICES

    if found is None:
        return Check("gcp perimeter", False, f"gcp.service_perimeter: {name} not found",
                     "check the name: gcloud access-context-manager perimeters list --policy POLICY")
    status = found.get("status") or {}
    inside = set(status.get("resources") or [])
    missing = [f"projects/{n}" for n in numbers if f"projects/{n}" not in inside]
    policy = name.split("/servicePerimeters/")[0].split("/")[-1]
    short = name.rsplit("/", 1)[-1]
    if missing:
        return Check("gcp perimeter", False,
                     f"gcp.service_perimeter: {', '.join(missing)} not inside {short} (enforced)",
                     f"gcloud access-context-manager perimeters update {short} --policy {policy} "
                     f"--add-resources {','.join(missing)}")
    restricted = set(status.get("restrictedServices") or [])
    unrestricted = [s for s in RESTRICTED_SERVICES if s not in restricted]
    if unrestricted:
        return Check("gcp perimeter", False,
                     f"gcp.service_perimeter: {short} does not restrict {', '.join(unrestricted)}",
                     f"gcloud access-context-manager perimeters update {short} --policy {policy} "
                     f"--add-restricted-services {','.join(unrestricted)}")
    return Check("gcp perimeter", True, f"{short} holds {', '.join(f'projects/{n}' for n in numbers)} "
                 f"and restricts {', '.join(RESTRICTED_SERVICES)}")


# --- an existing network --------------------------------------------------------------------


def network(cfg: "KitConfig") -> Check:
    opts = cfg.gcp
    if not opts.network:
        return Check("gcp network", True, "the kit creates its own network (no internet route)")
    if cfg.network.egress:
        return Check("gcp network", True, f"{opts.network}: network.egress is true (not checked)")
    try:
        api = _api(cfg)
        net_url = f"https://www.googleapis.com/compute/v1/projects/{opts.project}/global/networks/{opts.network}"
        routes = _pages(api, ROUTES_URL.format(project=opts.project, network=net_url))
        effective = api.get(EFFECTIVE_URL.format(project=opts.project, name=opts.network)) or {}
        dns = (api.get(DNS_POLICIES_URL.format(project=opts.project)) or {}).get("policies") or []
    except KitError as exc:
        return Check("gcp network", False, exc.message, exc.hint)
    return network_check(opts.network, f"{cfg.name}-node", routes, effective, dns)


def _pages(api: Any, url: str) -> list[dict[str, Any]]:
    items, next_url = [], url
    while next_url:
        page = api.get(next_url) or {}
        items += page.get("items") or []
        token = page.get("nextPageToken")
        next_url = f"{url}&pageToken={token}" if token else ""
    return items


def _hop(route: dict[str, Any]) -> str:
    for key in ("nextHopGateway", "nextHopInstance", "nextHopIp", "nextHopIlb", "nextHopVpnTunnel",
                "nextHopPeering", "nextHopNetwork", "nextHopHub", "nextHopInterconnectAttachment"):
        if route.get(key):
            return f"{key} {str(route[key]).rsplit('/', 1)[-1]}"
    return "an unnamed next hop"


def network_check(network: str, node_tag: str, routes: list[dict[str, Any]],
                  effective: dict[str, Any], dns_policies: list[dict[str, Any]] = ()) -> Check:
    """Refused, each with its fix: a route applying to the kit's nodes (untagged, or tagged
    with the node tag) that sends any public range (0.0.0.0/0, a split default such as
    0.0.0.0/1, an IPv6 range) anywhere but the restricted VIP; a VPC firewall allow rule for
    egress to a public range that outranks the kit's denial (priority < 200) and applies to
    the nodes; a firewall policy rule (hierarchical, global or regional network policy,
    evaluated before VPC rules) that allows egress to a public range; a DNS server policy that
    sends the network's queries to alternative name servers (they, not Cloud DNS and its
    response policy, would answer)."""
    where = f"gcp.network: {network}"
    for policy in dns_policies:
        mine = any(str(n.get("networkUrl", "")).rstrip("/").endswith(f"/networks/{network}")
                   for n in policy.get("networks") or [])
        servers = [t.get("ipv4Address") or t.get("ipv6Address") for t in
                   (policy.get("alternativeNameServerConfig") or {}).get("targetNameServers") or []]
        if mine and servers:
            return Check("gcp network", False,
                         f"{where}: DNS server policy {policy.get('name')} sends every query to "
                         f"{', '.join(map(str, servers))}, past the kit's response policy",
                         f"gcloud dns policies update {policy.get('name')} "
                         "--alternative-name-servers=\"\" (resolve your zones with Cloud DNS "
                         "forwarding zones instead)")
    for r in routes:
        tags = r.get("tags") or []
        if tags and node_tag not in tags:
            continue
        dest = str(r.get("destRange", ""))
        if public(dest):
            return Check("gcp network", False,
                         f"{where}: route {r.get('name')} sends {dest} to {_hop(r)}: a way to the "
                         "internet with network.egress false",
                         f"gcloud compute routes delete {r.get('name')} (or tag it for other "
                         f"instances than {node_tag}); the kit needs only 199.36.153.4/30")
    for fw in effective.get("firewalls") or []:
        if (fw.get("direction") != "EGRESS" or not fw.get("allowed") or fw.get("disabled")
                or int(fw.get("priority", 1000)) >= KIT_DENY_PRIORITY):
            continue
        targets = fw.get("targetTags") or []
        if (targets and node_tag not in targets) or fw.get("targetServiceAccounts"):
            continue
        wide = [d for d in fw.get("destinationRanges") or ["0.0.0.0/0"] if public(d)]
        if wide:
            return Check("gcp network", False,
                         f"{where}: firewall rule {fw.get('name')} (priority {fw.get('priority')}) "
                         f"allows egress to {', '.join(wide)} ahead of the kit's denial",
                         f"give it a priority of {KIT_DENY_PRIORITY} or more, or target other "
                         f"instances than {node_tag}")
    for policy in effective.get("firewallPolicys") or []:
        for rule in policy.get("rules") or []:
            if rule.get("direction") != "EGRESS" or rule.get("action") != "allow" or rule.get("disabled"):
                continue
            match = rule.get("match") or {}
            wide = [d for d in match.get("destIpRanges") or ["0.0.0.0/0"] if public(d)]
            if wide:
                return Check("gcp network", False,
                             f"{where}: firewall policy {policy.get('shortName') or policy.get('name')} "
                             f"({policy.get('type', '').lower()}) rule {rule.get('priority')} allows "
                             f"egress to {', '.join(wide)} before any VPC rule is evaluated",
                             "change the rule's action to goto_next, or narrow its destinations to "
                             "private ranges")
    return Check("gcp network", True, f"{network}: no route, firewall rule or policy lets the kit's "
                 "nodes reach the internet")
