"""The network map: who talks to whom, drawn so an OT engineer can read it.

Nodes are the inventory's assets; edges are initiator → responder per protocol with the operation
mix, packets, bytes and first/last seen; an edge between declared zones that no conduit allows is
flagged. Drawing (Graphviz `dot`): zones as clusters, Purdue levels as rows (level 5 on top, 0 at
the bottom), edges coloured by protocol (OT solid, IT dashed, forbidden red), controllers and
safety systems marked by shape and colour. Large networks stay readable: beyond `max_nodes`, hosts
that are not OT assets are merged per zone (`aggregate`), then everything per zone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import msgspec

from .inventory import Edge, Inventory, InventoryAsset

OT_ROLES = frozenset(("controller", "safety_controller", "hmi", "scada_server",
                      "engineering_workstation", "historian"))  # fmt: skip
LEVEL_NAMES = {5: "Level 5 · enterprise", 4: "Level 4 · business / IT", 3.5: "Level 3.5 · IT/OT DMZ",
               3: "Level 3 · site operations", 2: "Level 2 · supervisory control",
               1: "Level 1 · basic control", 0: "Level 0 · process"}  # fmt: skip
SHAPES = {"controller": "box3d", "safety_controller": "doubleoctagon", "hmi": "component",
          "scada_server": "component", "engineering_workstation": "tab", "historian": "cylinder",
          "network_device": "diamond", "it_host": "ellipse", "unknown": "ellipse",
          "aggregate": "folder"}  # fmt: skip
FILL = {"controller": "#dbe9f6", "safety_controller": "#f8d0cc", "hmi": "#e4f1dc",
        "scada_server": "#e4f1dc", "engineering_workstation": "#fdebc8", "historian": "#ece2f4",
        "network_device": "#eeeeee", "it_host": "#ffffff", "unknown": "#ffffff",
        "aggregate": "#f4f4f4"}  # fmt: skip
PROTOCOL_COLOURS = {"modbus": "#1f77b4", "s7comm": "#2ca02c", "s7comm_plus": "#2ca02c",
                    "enip": "#9467bd", "dnp3": "#ff7f0e", "iec104": "#8c564b", "opcua": "#17becf",
                    "bacnet": "#bcbd22", "mqtt": "#e377c2", "mms": "#7f7f7f", "goose": "#7f7f7f",
                    "profinet_dcp": "#393b79", "profinet": "#393b79"}  # fmt: skip


class Node(msgspec.Struct, kw_only=True):
    id: str
    label: str
    kind: str = "host"  # host | aggregate
    ip: str | None = None
    mac: str | None = None
    role: str = "unknown"
    role_confidence: float = 0.0
    purdue_level: float | None = None
    purdue_source: str | None = None
    zone: str | None = None
    zone_source: str | None = None
    vendor: str | None = None
    product: str | None = None
    firmware: str | None = None
    safety: bool = False
    criticality: int | None = None
    members: int = 1
    addresses: list[str] = []


class MapEdge(msgspec.Struct, kw_only=True):
    source: str  # node ids
    target: str
    initiator: str  # addresses (or the aggregate's id)
    responder: str
    protocol: str
    ot: bool
    messages: int = 0
    operations: dict[str, int] = {}
    packets: int = 0
    bytes: int = 0
    flows: int = 0
    first_seen: str | None = None
    last_seen: str | None = None
    allowed: bool | None = None
    reason: str | None = None
    edges: int = 1  # inventory edges merged into this one


@dataclass
class NetworkMap:
    nodes: list[Node]
    edges: list[MapEdge]
    aggregated: str | None = None  # None, "hosts" or "zones"
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> bytes:
        return msgspec.json.encode({"nodes": self.nodes, "edges": self.edges,
                                    "aggregated": self.aggregated, "notes": self.notes})  # fmt: skip


def _node(a: InventoryAsset) -> Node:
    return Node(id=a.key, label=a.label, ip=a.ip, mac=a.mac, role=a.role,
                role_confidence=a.role_confidence, purdue_level=a.purdue_level,
                purdue_source=a.purdue_source, zone=a.zone, zone_source=a.zone_source,
                vendor=a.vendor, product=a.product, firmware=a.firmware,
                safety=bool(a.safety_function) or a.role == "safety_controller",
                criticality=a.criticality, addresses=list(a.ips))  # fmt: skip


def build_map(inv: Inventory, *, max_nodes: int = 60, aggregate: bool = True) -> NetworkMap:
    """The map of an inventory; aggregated when it has more than `max_nodes` nodes."""
    nodes = {a.key: _node(a) for a in inv.assets.values()}
    for e in inv.edges:  # an edge to an address that is not an asset (broadcast, multicast)
        for ip in (e.initiator, e.responder):
            if ip not in nodes:
                nodes[ip] = Node(id=ip, label=ip, ip=ip, kind="group", role="unknown",
                                 addresses=[ip])  # fmt: skip
    owner = {n.id: n.id for n in nodes.values()}
    level = None
    if aggregate and len(nodes) > max_nodes:
        level = "hosts"
        owner = _group(nodes, lambda n: n.role in OT_ROLES or n.safety or n.criticality)
        if len(set(owner.values())) > max_nodes:
            level = "zones"
            owner = _group(nodes, lambda n: False)
    merged_nodes = _merge_nodes(nodes, owner) if level else list(nodes.values())
    edges: dict[tuple[str, str, str], MapEdge] = {}
    for e in inv.edges:
        s, t = owner.get(e.initiator, e.initiator), owner.get(e.responder, e.responder)
        key = (s, t, e.protocol)
        m = edges.get(key)
        if m is None:
            edges[key] = _map_edge(e, s, t, level is not None)
        else:
            _add(m, e)
    notes = []
    if level:
        notes.append(f"{len(nodes):,} nodes merged into {len(merged_nodes):,}: "
                     + ("hosts other than OT assets grouped per zone" if level == "hosts"
                        else "everything grouped per zone"))  # fmt: skip
    return NetworkMap(merged_nodes, sorted(edges.values(), key=lambda m: (m.source, m.target, m.protocol)),
                      level, notes)  # fmt: skip


def _zone_key(n: Node) -> str:
    return n.zone or "unzoned"


def _group(nodes: dict[str, Node], keep: Any) -> dict[str, str]:
    return {n.id: n.id if keep(n) else f"zone:{_zone_key(n)}" for n in nodes.values()}


def _merge_nodes(nodes: dict[str, Node], owner: dict[str, str]) -> list[Node]:
    out: dict[str, Node] = {}
    for n in nodes.values():
        o = owner[n.id]
        if o == n.id:
            out[o] = n
            continue
        g = out.get(o)
        if g is None:
            g = out[o] = Node(id=o, label=_zone_key(n), kind="aggregate", role="aggregate",
                              zone=n.zone, zone_source=n.zone_source, members=0,
                              purdue_level=n.purdue_level, purdue_source=n.purdue_source)  # fmt: skip
        g.members += n.members
        g.addresses += n.addresses
        g.safety = g.safety or n.safety
        if n.purdue_level is not None and (g.purdue_level is None or n.purdue_level < g.purdue_level):
            g.purdue_level, g.purdue_source = n.purdue_level, n.purdue_source
    for g in out.values():
        if g.kind == "aggregate":
            roles = sorted({nodes[i].role for i in nodes if owner[i] == g.id})
            g.label = f"{g.label}\n{g.members:,} hosts ({', '.join(roles)})"
    return list(out.values())


def _map_edge(e: Edge, s: str, t: str, merged: bool) -> MapEdge:
    return MapEdge(source=s, target=t, initiator=s if merged else e.initiator,
                   responder=t if merged else e.responder, protocol=e.protocol, ot=e.ot,
                   messages=e.messages, operations=dict(e.operations), packets=e.packets,
                   bytes=e.bytes, flows=e.flows, first_seen=e.first_seen, last_seen=e.last_seen,
                   allowed=e.allowed, reason=e.reason)  # fmt: skip


def _add(m: MapEdge, e: Edge) -> None:
    m.messages += e.messages
    for op, n in e.operations.items():
        m.operations[op] = m.operations.get(op, 0) + n
    m.packets += e.packets
    m.bytes += e.bytes
    m.flows += e.flows
    m.first_seen = min(filter(None, (m.first_seen, e.first_seen)), default=None)
    m.last_seen = max(filter(None, (m.last_seen, e.last_seen)), default=None)
    if e.allowed is False:
        m.allowed, m.reason = False, e.reason
    elif m.allowed is None:
        m.allowed, m.reason = e.allowed, e.reason
    m.edges += 1


# -- output -----------------------------------------------------------------------------------
def graphml(m: NetworkMap) -> str:
    """GraphML (yEd, Gephi, NetworkX): node and edge attributes as declared keys."""
    node_keys = [("label", "string"), ("kind", "string"), ("ip", "string"), ("mac", "string"),
                 ("role", "string"), ("role_confidence", "double"), ("purdue_level", "double"),
                 ("zone", "string"), ("vendor", "string"), ("product", "string"),
                 ("firmware", "string"), ("safety", "boolean"), ("members", "int")]  # fmt: skip
    edge_keys = [("protocol", "string"), ("ot", "boolean"), ("messages", "long"),
                 ("operations", "string"), ("packets", "long"), ("bytes", "long"),
                 ("first_seen", "string"), ("last_seen", "string"), ("allowed", "string"),
                 ("reason", "string")]  # fmt: skip
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">']  # fmt: skip
    for name, typ in node_keys:
        out.append(f'  <key id="n_{name}" for="node" attr.name="{name}" attr.type="{typ}"/>')
    for name, typ in edge_keys:
        out.append(f'  <key id="e_{name}" for="edge" attr.name="{name}" attr.type="{typ}"/>')
    out.append('  <graph id="watchfloor" edgedefault="directed">')

    def data(prefix: str, name: str, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        return f'<data key="{prefix}_{name}">{escape(str(value))}</data>'

    for n in m.nodes:
        body = "".join(data("n", k, getattr(n, k)) for k, _ in node_keys)
        out.append(f"    <node id={quoteattr(n.id)}>{body}</node>")
    for i, e in enumerate(m.edges):
        body = "".join(data("e", k, getattr(e, k)) for k, _ in edge_keys)
        out.append(f"    <edge id=\"e{i}\" source={quoteattr(e.source)} target={quoteattr(e.target)}>{body}</edge>")
    out += ["  </graph>", "</graphml>"]
    return "\n".join(out) + "\n"


def _colour(protocol: str) -> str:
    if protocol in PROTOCOL_COLOURS:
        return PROTOCOL_COLOURS[protocol]
    h = hashlib.blake2b(protocol.encode(), digest_size=2).digest()
    return f"#{0x60 + h[0] % 0x60:02x}{0x60 + h[1] % 0x60:02x}{0x90:02x}"


def _level_key(level: float | None) -> str:
    return "none" if level is None else f"{level:g}".replace(".", "_")


def dot_graph(m: NetworkMap, title: str = "Watchfloor network map"):  # type: ignore[no-untyped-def]
    """A `graphviz.Digraph`: zones as clusters, Purdue levels as rows."""
    import graphviz

    g = graphviz.Digraph("watchfloor", graph_attr={
        "label": title, "labelloc": "t", "fontname": "Helvetica", "fontsize": "16",
        "rankdir": "TB", "newrank": "true", "compound": "true", "nodesep": "0.35",
        "ranksep": "0.8", "splines": "true"},
        node_attr={"fontname": "Helvetica", "fontsize": "10", "style": "filled"},
        edge_attr={"fontname": "Helvetica", "fontsize": "8"})  # fmt: skip
    levels = sorted({n.purdue_level for n in m.nodes if n.purdue_level is not None}, reverse=True)
    # the rows: a label per Purdue level, chained top to bottom
    for lv in levels:
        g.node(f"level_{_level_key(lv)}", LEVEL_NAMES.get(lv, f"Level {lv:g}"), shape="plaintext",
               style="", fontsize="12", fontcolor="#555555")  # fmt: skip
    for upper, lower in zip(levels, levels[1:]):
        g.edge(f"level_{_level_key(upper)}", f"level_{_level_key(lower)}", style="invis")
    zones: dict[str, list[Node]] = {}
    for n in m.nodes:
        zones.setdefault(n.zone or "", []).append(n)
    for zone, members in sorted(zones.items()):
        target = g
        ctx = None
        if zone:
            ctx = g.subgraph(name=f"cluster_{hashlib.blake2b(zone.encode(), digest_size=4).hexdigest()}")
            target = ctx.__enter__()
            inferred = all(n.zone_source == "inferred" for n in members)
            target.attr(label=f"zone {zone}" + (" (inferred)" if inferred else ""), style="rounded,dashed" if inferred else "rounded",
                        color="#888888", fontsize="11")  # fmt: skip
        for n in members:
            target.node(n.id, _node_label(n), **_node_style(n))
        if ctx is not None:
            ctx.__exit__(None, None, None)
    for lv in levels:
        with g.subgraph() as row:
            row.attr(rank="same")
            row.node(f"level_{_level_key(lv)}")
            for n in m.nodes:
                if n.purdue_level == lv:
                    row.node(n.id)
    for e in m.edges:
        g.edge(e.source, e.target, **_edge_style(e))
    return g


def _node_label(n: Node) -> str:
    lines = [n.label]
    if n.kind != "aggregate":
        if n.ip and n.ip != n.label:
            lines.append(n.ip)
        role = n.role.replace("_", " ")
        lines.append(role + ("" if n.role_confidence >= 1 or n.role == "unknown" else f" ({n.role_confidence:.2f})"))
        ident = " ".join(filter(None, (n.vendor, n.product)))
        if ident:
            lines.append(ident[:40] + (f" fw {n.firmware}" if n.firmware else ""))
        if n.safety:
            lines.append("SAFETY")
    return "\n".join(lines)


def _node_style(n: Node) -> dict[str, str]:
    style = {"shape": SHAPES.get(n.role, "ellipse"), "fillcolor": FILL.get(n.role, "#ffffff")}
    if n.safety:
        style.update(color="#c0392b", penwidth="2.5", fillcolor=FILL["safety_controller"])
    elif n.role in ("controller",):
        style.update(color="#1f4e79", penwidth="1.8")
    if n.kind == "group":
        style.update(shape="plaintext", style="", fillcolor="")
    return style


def _edge_style(e: MapEdge) -> dict[str, str]:
    ops = ", ".join(f"{k} {v:,}" for k, v in sorted(e.operations.items(), key=lambda kv: -kv[1])[:3])
    label = e.protocol + (f"\n{ops}" if ops else "") + (f"\n{e.packets:,} pkts" if e.packets and not ops else "")
    style = {"color": _colour(e.protocol), "label": label, "fontcolor": "#444444",
             "penwidth": "1.6" if e.ot else "1.0", "style": "solid" if e.ot else "dashed"}  # fmt: skip
    writes = sum(v for k, v in e.operations.items() if k in ("write", "control", "program", "firmware", "config"))
    if writes:
        style["arrowhead"] = "normalbox"  # changes the responder's state
    if e.allowed is False:
        style.update(color="#d62728", penwidth="2.5", fontcolor="#d62728",
                     label=label + "\n✗ no conduit allows this")  # fmt: skip
    return style


def render(m: NetworkMap, fmt: str, title: str = "Watchfloor network map") -> bytes:
    """json | graphml | dot (text) | svg | png (Graphviz `dot` must be installed)."""
    if fmt == "json":
        return m.to_json()
    if fmt == "graphml":
        return graphml(m).encode()
    g = dot_graph(m, title)
    if fmt == "dot":
        return g.source.encode()
    return g.pipe(format=fmt)
