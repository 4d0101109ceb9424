"""The network map as a person gets it: SVG and PNG drawn by Graphviz (structure checked), DOT,
GraphML and JSON; aggregation keeps large networks readable; forbidden flows are marked."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from watchfloor.inventory import assemble
from watchfloor.netmap import build_map, render
from watchfloor.site import parse_site
from watchfloor.store.base import Conversation

EXAMPLE = Path(__file__).parent.parent / "examples" / "plant.pcap.gz"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` not installed (apt-get install graphviz)")
SVG = "{http://www.w3.org/2000/svg}"


def run(*args: str) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run([sys.executable, "-m", "watchfloor", *args], capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("map") / "plant.duckdb"
    run("ingest", str(EXAMPLE), "--db", str(path), "--workers", "1", "--no-detect")
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("site") / "site.yaml"
    path.write_text("""sites:
  - id: water
    zones:
      - {id: control-room, name: Control room, purdue_level: 2, subnets: [10.20.1.0/24]}
      - {id: cell, name: Pump cell, purdue_level: 1, subnets: [10.20.2.0/24]}
    assets:
      - {name: SIS-1, ips: [10.20.2.11], role: safety_controller, safety_function: SIS}
      - {name: EWS-1, ips: [10.20.1.30], role: engineering_workstation}
    conduits:
      - {from: control-room, to: cell, protocols: [dnp3]}
""")
    return path


@needs_dot
def test_svg_structure(db: Path, site: Path, tmp_path: Path) -> None:
    out = tmp_path / "map.svg"
    proc = run("map", "--db", str(db), "--site", str(site), "--format", "svg", "-o", str(out))
    assert b"not allowed by any declared conduit" in proc.stderr  # modbus is not in the conduit
    root = ET.parse(out).getroot()
    assert root.tag == f"{SVG}svg"
    groups = {g.get("class"): [] for g in root.iter(f"{SVG}g")}
    for g in root.iter(f"{SVG}g"):
        groups[g.get("class")].append(g)
    clusters = [g.find(f"{SVG}title").text for g in groups["cluster"]]  # type: ignore[union-attr]
    assert len(clusters) == 2
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert "zone control-room" in texts and "zone cell" in texts
    assert any(t.startswith("Level 1") for t in texts) and any(t.startswith("Level 2") for t in texts)
    nodes = {g.find(f"{SVG}title").text for g in groups["node"]}  # type: ignore[union-attr]
    assert {"10.20.1.10", "10.20.1.30", "10.20.2.11", "10.20.2.12", "10.20.2.13"} <= nodes
    assert "SAFETY" in texts and "SIS-1" in texts
    edges = [g.find(f"{SVG}title").text for g in groups["edge"]]  # type: ignore[union-attr]
    assert "10.20.1.10->10.20.2.12" in edges
    assert "✗ no conduit allows this" in texts
    # Purdue rows: every level-1 node is drawn below every level-2 node (SVG y grows downwards)
    y = {}
    for g in groups["node"]:
        title = g.find(f"{SVG}title").text  # type: ignore[union-attr]
        shape = next(iter(g.iter(f"{SVG}text")))
        y[title] = float(shape.get("y"))  # type: ignore[arg-type]
    assert max(y[n] for n in ("10.20.1.10", "10.20.1.30")) < min(y[n] for n in ("10.20.2.11", "10.20.2.12", "10.20.2.13"))


@needs_dot
def test_png(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "map.png"
    run("map", "--db", str(db), "--format", "png", "-o", str(out))
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert 300 < width < 10_000 and 150 < height < 10_000


def test_json_graphml_and_dot(db: Path) -> None:
    graph = json.loads(run("map", "--db", str(db), "--format", "json").stdout)
    assert len(graph["nodes"]) == 5 and graph["aggregated"] is None
    [poll] = [e for e in graph["edges"] if (e["initiator"], e["responder"]) == ("10.20.1.10", "10.20.2.11")]
    assert poll["protocol"] == "modbus" and poll["ot"] and poll["operations"]["read"] > 0
    assert poll["packets"] == 1132  # tshark: 511 + 621 frames in this conversation
    root = ET.fromstring(run("map", "--db", str(db), "--format", "graphml").stdout)
    ns = "{http://graphml.graphdrawing.org/xmlns}"
    assert len(root.findall(f"{ns}graph/{ns}node")) == 5 and len(root.findall(f"{ns}graph/{ns}edge")) == 4
    dot = run("map", "--db", str(db), "--format", "dot").stdout.decode()
    assert dot.startswith("digraph") and "newrank=true" in dot and '"10.20.1.10" -> "10.20.2.11"' in dot


def test_large_networks_are_merged_per_zone() -> None:
    """300 office PCs talking to 3 file servers and one HMI polling 2 PLCs: the PCs become one
    node per zone; the OT assets stay themselves; the totals are kept."""
    site = parse_site("""sites:
  - zones: [{id: office, purdue_level: 4, subnets: [10.1.0.0/16]}, {id: cell, purdue_level: 1, subnets: [10.20.2.0/24]}]
""")
    convs = [Conversation(f"10.1.{i // 250}.{i % 250 + 1}", None, f"10.1.9.{i % 3 + 1}", None, None,
                          None, "tcp", 445, None, None, True, 1, 0, 10, 5, 500, 4, 400)
             for i in range(300)]  # fmt: skip
    convs += [Conversation("10.1.20.5", None, f"10.20.2.{i}", None, "modbus", "modbus", "tcp", 502,
                           "request", "read", False, 100, 0, 10, 0, 0, 0, 0) for i in (11, 12)]  # fmt: skip
    inv = assemble(convs, [], site)
    m = build_map(inv, max_nodes=20)
    assert m.aggregated == "hosts" and len(m.nodes) <= 20
    ids = {n.id for n in m.nodes}
    assert {"10.1.20.5", "10.20.2.11", "10.20.2.12", "zone:office"} <= ids
    office = next(n for n in m.nodes if n.id == "zone:office")
    assert office.members == 303 and office.kind == "aggregate"
    smb = [e for e in m.edges if e.protocol == "tcp/445"]
    assert len(smb) == 1 and smb[0].packets == 300 * 9 and smb[0].edges == 300
    assert sum(e.messages for e in m.edges if e.protocol == "modbus") == 200
    full = build_map(inv, max_nodes=20, aggregate=False)
    assert len(full.nodes) == len(inv.assets)
    assert render(m, "json")
