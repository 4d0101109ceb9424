"""Wireshark conformance helpers: run tshark and our decoder, group both per frame, compare.

This is a helper module, not a test. DESIGN.md §3.2 ("Conformance contract") says which of our
event fields must equal which Wireshark field on the same frame. One :class:`ProtocolSpec` per
protocol in :data:`PROTOCOLS` holds that mapping plus the tshark options the protocol needs;
everything else here is protocol-neutral.

Both sides are reduced to the same shape::

    {frame_number: [(v1, v2, ...), ...]}

one tuple per decoded application message, in stream order, values in the order of
``spec.fields``. Several Wireshark occurrences of a field in one frame (several PDUs in one TCP
segment) are zipped in order. Values are normalised so that ``"0x0065"``, ``"101"`` and ``101``
compare equal.

tshark quirks handled here:

* ``-T fields`` joins several occurrences of a field with the aggregator (a comma by default,
  which also occurs inside string values) -- we use the ASCII unit separator and the record
  separator for the column separator.
* A field can be absent on some occurrences (e.g. ``modbus.exception_code`` only on exception
  responses), so the per-field lists of one frame cannot always be zipped by position. When the
  occurrence counts of a frame differ, that frame is re-read as PDML, where fields come in
  document order, and the records are rebuilt from that order (see :func:`_records_from_pdml`).
  A field with no occurrence at all in the frame is simply None in every record.
* tshark prints ``Running as user "root"...`` on stderr; only the exit status is trusted.
* Port-based protocols on a non-standard port need a preference (``-o mbtcp.tcp.port:...``) or a
  decode-as (``-d tcp.port==N,dnp3``); ``ProtocolSpec.port_options`` builds them from the server
  ports found in the capture.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

REPO = Path(__file__).resolve().parents[2]
SHARED = (REPO / ".." / "shared").resolve()
CORPUS = SHARED / "corpus"

#: Always passed to tshark: Wireshark 4.0's TCP defaults, pinned so that a personal preferences
#: file cannot change the oracle. Desegmentation on (a message split over segments is reported at
#: the frame that completes it); out-of-order segments are NOT buffered (after a gap tshark
#: restarts at the next segment); checksums not checked (loopback captures have offloaded ones).
BASE_OPTIONS: tuple[str, ...] = (
    "-o", "tcp.desegment_tcp_streams:TRUE",
    "-o", "tcp.reassemble_out_of_order:FALSE",
    "-o", "tcp.analyze_sequence_numbers:TRUE",
    "-o", "tcp.check_checksum:FALSE",
)

# -T fields separators: ASCII RS between columns, US between occurrences of one field.
_SEP = "\x1e"
_AGG = "\x1f"

Record = tuple
Frames = dict[int, list[Record]]


# --------------------------------------------------------------------------------------------
# Protocol table
# --------------------------------------------------------------------------------------------

def pref_ports(pref: str, standard: Sequence[int]) -> Callable[[Iterable[int]], list[str]]:
    """Options for a dissector whose port preference is a range (e.g. ``mbtcp.tcp.port``).

    The range replaces the default, so the standard ports are always included.
    """

    def build(ports: Iterable[int]) -> list[str]:
        allp = sorted({*standard, *ports})
        return ["-o", f"{pref}:{','.join(str(p) for p in allp)}"]

    return build


def decode_as(table: str, dissector: str, standard: Sequence[int] = ()) -> Callable[[Iterable[int]], list[str]]:
    """Options ``-d table==N,dissector`` for each non-standard port."""

    def build(ports: Iterable[int]) -> list[str]:
        out: list[str] = []
        for p in sorted(set(ports) - set(standard)):
            out += ["-d", f"{table}=={p},{dissector}"]
        return out

    return build


@dataclass(frozen=True)
class ProtocolSpec:
    """How one protocol is compared.

    name
        our protocol key; an event is a decoded message of this protocol iff it has ``ot.<name>``.
    fields
        ``(our dotted path, Wireshark field)`` pairs, compared in this order. The Wireshark side
        may be a tuple of alternative fields (first one present wins), e.g. BACnet's
        ``bacapp.confirmed_service`` / ``bacapp.unconfirmed_service``.
    tshark_options
        always passed to tshark (``-o`` preferences, ``-d`` decode-as).
    port_options
        builds extra options from the server ports seen in the capture (non-standard ports).
    standard_ports
        the ports Wireshark dissects without being told.
    role_path
        dotted path of our request/response role, used to find server ports.
    require
        our paths that must be present in a Wireshark record for it to count (e.g. DNP3 link
        frames without an application layer are not messages).
    extract
        optional ``event -> list of records`` for protocols whose events carry lists (nested
        items); default is one record per event from ``fields``.
    display_filter
        tshark ``-Y``; default ``proto1 || proto2`` from the field prefixes.
    nested
        a field may occur several times in one message (CIP services nested in a Multiple
        Service Packet or an Unconnected Send): zipping occurrences by position could pair a
        nested value with the wrong message, so every frame with more than one occurrence is
        read from PDML (document order), where a repeated field starts a record of its own.
    pdml_protocols
        further protocols whose subtrees PDML must keep (``-J``): a dissector that carries an
        embedded message of the compared protocol (CIP's connection manager, ``cipcm``, holds the
        request embedded in an Unconnected Send).
    pdml_full
        re-read ragged frames as full PDML (no ``-j`` protocol filter): needed when the fields
        sit inside unnamed subtrees, which ``-j`` drops (DNP3's "Data Link Layer" node).
    """

    name: str
    fields: tuple[tuple[str, str | tuple[str, ...]], ...]
    tshark_options: tuple[str, ...] = ()
    port_options: Callable[[Iterable[int]], list[str]] | None = None
    standard_ports: tuple[int, ...] = ()
    transport: str = "tcp"
    role_path: str = "ot.role"
    require: tuple[str, ...] = ()
    extract: Callable[[Mapping[str, Any]], list[Record]] | None = None
    display_filter: str | None = None
    nested: bool = False
    pdml_protocols: tuple[str, ...] = ()
    pdml_full: bool = False

    @property
    def our_paths(self) -> list[str]:
        return [ours for ours, _ in self.fields]

    @property
    def ws_alternatives(self) -> list[tuple[str, ...]]:
        return [(ws,) if isinstance(ws, str) else tuple(ws) for _, ws in self.fields]

    @property
    def ws_fields(self) -> list[str]:
        """Every Wireshark field, flattened, in order (the -e list)."""
        return [f for alts in self.ws_alternatives for f in alts]

    @property
    def ws_protocols(self) -> list[str]:
        seen: list[str] = []
        for f in self.ws_fields:
            p = f.split(".", 1)[0]
            if p not in seen:
                seen.append(p)
        return seen

    def filter(self) -> str:
        return self.display_filter or " || ".join(self.ws_protocols)

    def options(self, ports: Iterable[int] = ()) -> list[str]:
        opts = [*BASE_OPTIONS, *self.tshark_options]
        if self.port_options is not None:
            opts += self.port_options(ports)
        return opts


#: One entry per protocol (DESIGN.md §3.2). Adding a protocol = one entry here.
PROTOCOLS: dict[str, ProtocolSpec] = {
    "modbus": ProtocolSpec(
        name="modbus",
        fields=(
            ("ot.modbus.transaction_id", "mbtcp.trans_id"),
            ("ot.modbus.unit_id", "mbtcp.unit_id"),
            # Wireshark's modbus.func_code has bitmask 0x7f: an exception response 0x83 shows 3.
            ("ot.modbus.function_code", "modbus.func_code"),
        ),
        # mbtcp.tcp.port is a range preference; it also decides query/response direction.
        port_options=pref_ports("mbtcp.tcp.port", (502,)),
        standard_ports=(502,),
    ),
    # EtherNet/IP + CIP: one record per encapsulation message (command, outer service), then one
    # (None, service) record per nested service, depth first -- the order of Wireshark's cip.sc.
    "enip": ProtocolSpec(
        name="enip",
        fields=(("ot.enip.command", "enip.command"), ("ot.cip.service", "cip.sc")),
        port_options=decode_as("tcp.port", "enip", (44818,)),
        standard_ports=(44818,),
        extract=lambda ev: _enip_records(ev),
        nested=True,
        pdml_protocols=("cipcm",),
    ),
    "dnp3": ProtocolSpec(
        name="dnp3",
        # Destination first: it precedes the source in the link header, and the first field
        # anchors each record when a frame is re-read as PDML (several link frames in one frame).
        fields=(("ot.dnp3.destination", "dnp3.dst"), ("ot.dnp3.source", "dnp3.src"),
                ("ot.dnp3.function_code", "dnp3.al.func")),
        # DNP3 runs on TCP and UDP 20000; a non-standard server port is decoded as DNP3 on both.
        port_options=lambda ports: [*decode_as("tcp.port", "dnp3", (20000,))(ports),
                                    *decode_as("udp.port", "dnp3", (20000,))(ports)],
        standard_ports=(20000,),
        # Link frames without an application layer (resets, link status, ACKs) are not messages.
        require=("ot.dnp3.function_code",),
        pdml_full=True),
    # S and U frames carry no ASDU: their records have None for the ASDU fields. A frame mixing
    # them with I frames has ragged occurrence counts and is rebuilt from PDML (anchor: the type).
    "iec104": ProtocolSpec(
        name="iec104",
        fields=(("ot.iec104.apci_type", "iec60870_104.type"), ("ot.iec104.type_id", "iec60870_asdu.typeid"),
                ("ot.iec104.cot", "iec60870_asdu.causetx"), ("ot.iec104.common_address", "iec60870_asdu.addr")),
        port_options=decode_as("tcp.port", "iec60870_104", (2404,)), standard_ports=(2404,)),
    "s7comm": ProtocolSpec(
        name="s7comm",
        fields=(
            ("ot.s7comm.rosctr", "s7comm.header.rosctr"),
            # jobs and ack-data carry a function, userdata a group and subfunction: ragged
            # occurrences, so frames mixing them are read from PDML.
            ("ot.s7comm.function_code", "s7comm.param.func"),
            ("ot.s7comm.userdata_group", "s7comm.param.userdata.funcgroup"),
            ("ot.s7comm.userdata_subfunction", "s7comm.param.userdata.subfunc"),
        ),
        # TPKT on other ports by decode-as; S7comm is found heuristically inside COTP.
        port_options=decode_as("tcp.port", "tpkt", (102,)),
        standard_ports=(102,),
    ),
    # MMS: the invoke id and the confirmed service of confirmed requests, responses and errors
    # (an error carries no service). Initiate, conclude, cancel, reject and unconfirmed PDUs have
    # neither field on either side and are not records.
    "mms": ProtocolSpec(
        name="mms",
        fields=(("ot.mms.invoke_id", "mms.invokeID"),
                ("ot.mms.service", ("mms.confirmedServiceRequest", "mms.confirmedServiceResponse"))),
        # A capture that starts inside an association lacks the presentation CP that maps context
        # ids to abstract syntaxes: Wireshark then leaves the PDVs undissected. Its users context
        # list supplies the conventional mapping (context 3 = MMS, 1.0.9506.2.1); it applies only
        # where no CP was seen. We tell ACSE from MMS by the PDV's tag and need no table.
        tshark_options=("-o", 'uat:pres_context_list:"3","1.0.9506.2.1"'),
        port_options=decode_as("tcp.port", "tpkt", (102,)),
        standard_ports=(102,),
        extract=lambda ev: _mms_records(ev),
    ),
    # PROFINET DCP: layer 2 (EtherType 0x8892), no ports; one DCP PDU per frame.
    "profinet_dcp": ProtocolSpec(
        name="profinet_dcp",
        fields=(("ot.profinet_dcp.service_id", "pn_dcp.service_id"),
                ("ot.profinet_dcp.service_type", "pn_dcp.service_type")),
        transport="ether",
    ),
    # One record per control packet; several packets in one segment are zipped in order.
    "mqtt": ProtocolSpec(
        name="mqtt",
        fields=(("ot.mqtt.message_type", "mqtt.msgtype"),),
        port_options=decode_as("tcp.port", "mqtt", (1883,)),
        standard_ports=(1883,),
    ),
    # One record per BVLL message (one per datagram). BACnet over Ethernet/ARCNET/MS-TP has no
    # BVLC: those frames are not BACnet/IP and are left out on both sides (require).
    "bacnet": ProtocolSpec(
        name="bacnet",
        fields=(("ot.bacnet.bvlc_function", "bvlc.function"), ("ot.bacnet.apdu_type", "bacapp.type"),
                ("ot.bacnet.service", ("bacapp.confirmed_service", "bacapp.unconfirmed_service"))),
        port_options=decode_as("udp.port", "bvlc", (47808,)),
        standard_ports=(47808,),
        transport="udp",
        require=("ot.bacnet.bvlc_function",),
        display_filter="bvlc",
    ),
    # GOOSE: layer 2 (EtherType 0x88B8), no ports; one GOOSE PDU per frame.
    "goose": ProtocolSpec(
        name="goose",
        fields=(("ot.goose.gocb_ref", "goose.gocbRef"), ("ot.goose.st_num", "goose.stNum"),
                ("ot.goose.sq_num", "goose.sqNum")),
        transport="ether",
        # a frame whose PDU yields none of the three (malformed from its first element) is
        # reported with an anomaly but is no record: tshark shows no field for it either
        extract=lambda ev: _goose_records(ev),
    ),
    # SV is summarised per stream, so it is compared per stream (test_goose_conformance.py), not
    # frame by frame; this entry gives bench/protocols.py the tshark side (one sv.svID per ASDU).
    "sv": ProtocolSpec(
        name="sv",
        fields=(("ot.sv.sv_id", "sv.svID"),),
        transport="ether",
    ),
    # OPC UA: one record per UACP message (HEL/ACK/OPN/MSG/CLO/ERR, and each chunk of a chunked
    # message); the service id where the body is visible (the final chunk of a reassembly).
    "opcua": ProtocolSpec(
        name="opcua",
        fields=(("ot.opcua.message_type", "opcua.transport.type"),
                ("ot.opcua.service_id", "opcua.servicenodeid.numeric")),
        port_options=decode_as("tcp.port", "opcua", (4840,)),
        standard_ports=(4840,),
    ),
}


def _goose_records(ev: Mapping[str, Any]) -> list[Record]:
    rec = tuple(normalize(get_path(ev, f"ot.goose.{k}")) for k in ("gocb_ref", "st_num", "sq_num"))
    return [rec] if any(v is not None for v in rec) else []


def _mms_records(ev: Mapping[str, Any]) -> list[Record]:
    """A confirmed request/response/error PDU is one (invoke id, service) record; others none."""
    if get_path(ev, "ot.mms.pdu_type") not in (0, 1, 2):
        return []
    return [(normalize(get_path(ev, "ot.mms.invoke_id")), normalize(get_path(ev, "ot.mms.service")))]


def _enip_records(ev: Mapping[str, Any]) -> list[Record]:
    """An EtherNet/IP event's records; I/O summaries (no encapsulation command) have none, as
    Wireshark shows no enip.command on class 0/1 I/O datagrams."""
    cmd = get_path(ev, "ot.enip.command")
    if cmd is None:
        return []
    recs: list[Record] = [(cmd, get_path(ev, "ot.cip.service"))]
    recs += [(None, s) for s in get_path(ev, "ot.cip.services") or ()]
    return recs


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------

_INT_RE = re.compile(r"^[+-]?(0[xX][0-9a-fA-F]+|\d+)$")


def normalize(value: Any) -> Any:
    """Make a tshark string and one of our JSON values comparable.

    Integers (decimal or ``0x`` hex) become ``int``, booleans become 0/1, ``""`` and ``None``
    become ``None``; other strings are kept.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        s = value.strip()
        if s == "":
            return None
        if _INT_RE.match(s):
            return int(s, 0)
        if s in ("True", "False"):
            return int(s == "True")
        return s
    if isinstance(value, list):
        return tuple(normalize(v) for v in value)
    return value


# --------------------------------------------------------------------------------------------
# tshark side
# --------------------------------------------------------------------------------------------

class TsharkError(RuntimeError):
    pass


def tshark_path() -> str | None:
    """$TSHARK if set, else tshark on PATH; None when it is not installed."""
    return shutil.which(os.environ.get("TSHARK") or "tshark")


def tshark_version() -> str:
    exe = tshark_path()
    if not exe:
        return "tshark not found"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60).stdout
    return out.splitlines()[0] if out else "unknown"


_CONFIG_DIR: str | None = None


def _empty_config_dir() -> str:
    global _CONFIG_DIR
    if _CONFIG_DIR is None:
        import atexit
        import tempfile

        _CONFIG_DIR = tempfile.mkdtemp(prefix="wf-tshark-profile-")
        atexit.register(shutil.rmtree, _CONFIG_DIR, True)
    return _CONFIG_DIR


def _tshark(args: list[str], timeout: float) -> str:
    exe = tshark_path()
    if not exe:
        raise TsharkError("tshark not found (apt-get install tshark)")
    env = dict(os.environ)
    # Ignore any personal Wireshark profile (preferences, decode-as entries, disabled protocols).
    env["WIRESHARK_CONFIG_DIR"] = _empty_config_dir()
    proc = subprocess.run([exe, *args], capture_output=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace")
        err = "\n".join(line for line in err.splitlines() if "Running as user" not in line)
        raise TsharkError(f"tshark {' '.join(args)} failed (rc={proc.returncode}): {err.strip()}")
    return proc.stdout.decode("utf-8", "replace")


def tshark_fields(
    capture: str | os.PathLike,
    fields: Sequence[str],
    options: Sequence[str] = (),
    display_filter: str | None = None,
    timeout: float = 600,
) -> dict[int, list[list[str]]]:
    """Raw ``-T fields`` output: ``{frame: [occurrences of field 0, of field 1, ...]}``.

    Only frames where at least one of ``fields`` occurs are returned.
    """
    args = ["-n", "-r", str(capture), *options, "-T", "fields",
            "-E", "header=n", "-E", "quote=n", "-E", "occurrence=a",
            "-E", f"aggregator={_AGG}", "-E", f"separator={_SEP}",
            "-e", "frame.number"]
    for f in fields:
        args += ["-e", f]
    if display_filter:
        args += ["-Y", display_filter]
    out: dict[int, list[list[str]]] = {}
    for line in _tshark(args, timeout).split("\n"):
        if not line:
            continue
        cols = line.split(_SEP)
        if len(cols) != len(fields) + 1:
            raise TsharkError(f"unexpected tshark line ({len(cols)} columns, want {len(fields) + 1}): {line!r}")
        occ = [c.split(_AGG) if c != "" else [] for c in cols[1:]]
        if any(occ):
            out[int(cols[0])] = occ
    return out


def _frame_filter(frames: Iterable[int]) -> str:
    return "frame.number in {" + ",".join(str(f) for f in sorted(frames)) + "}"


def _records_from_pdml(pdml: str, spec: ProtocolSpec) -> Frames:
    """Records from PDML, where fields appear in document (= stream) order.

    A new record starts at the first field of ``spec.fields`` (the anchor) or when a field that
    the current record already has appears again. Missing fields stay ``None``.
    """
    index: dict[str, int] = {}
    for i, alts in enumerate(spec.ws_alternatives):
        for f in alts:
            index[f] = i
    anchor_fields = set(spec.ws_alternatives[0])
    out: Frames = {}
    root = ET.fromstring(pdml)
    for packet in root.iter("packet"):
        num = None
        for f in packet.iter("field"):
            if f.get("name") == "num":
                num = int(f.get("show"))
                break
        if num is None:
            raise TsharkError("PDML packet without geninfo.num")
        recs: list[list[Any]] = []
        cur: list[Any] | None = None
        for f in packet.iter("field"):
            name = f.get("name")
            if name not in index:
                continue
            i = index[name]
            if cur is None or name in anchor_fields or cur[i] is not None:
                cur = [None] * len(spec.fields)
                recs.append(cur)
            if cur[i] is None:  # first alternative present wins
                cur[i] = normalize(f.get("show"))
        if recs:
            out[num] = [tuple(r) for r in recs]
    return out


def wireshark_records(
    capture: str | os.PathLike,
    spec: ProtocolSpec,
    ports: Iterable[int] = (),
    extra_options: Sequence[str] = (),
    timeout: float = 600,
) -> Frames:
    """Wireshark's view: ``{frame: [(v1, v2, ...), ...]}`` for ``spec``'s fields."""
    options = [*spec.options(ports), *extra_options]
    alts = spec.ws_alternatives
    flat = spec.ws_fields
    raw = tshark_fields(capture, flat, options, spec.filter(), timeout)
    out: Frames = {}
    ragged: set[int] = set()
    for frame, occ in raw.items():
        # Per our field: the alternatives' occurrence lists.
        pos = 0
        per_field: list[list[str]] = []
        ok = True
        for a in alts:
            present = [occ[pos + k] for k in range(len(a)) if occ[pos + k]]
            pos += len(a)
            if len(present) > 1:
                ok = False  # several alternatives in one frame: order only known from PDML
            per_field.append(present[0] if present else [])
        # Fields absent from the whole frame are absent from every record (e.g. the ASDU fields
        # of a frame holding only IEC 104 S and U frames): zipping the others stays unambiguous.
        counts = {len(v) for v in per_field} - {0}
        if not ok or len(counts) != 1 or (spec.nested and max(counts) > 1):
            ragged.add(frame)
            continue
        n = counts.pop()
        out[frame] = [tuple(normalize(v[k]) if v else None for v in per_field) for k in range(n)]
    if ragged:
        # Full PDML when the fields sit in unnamed subtrees (DNP3), else only the compared
        # protocols' subtrees with their children (-J).
        only = [] if spec.pdml_full else ["-J", " ".join([*spec.ws_protocols, *spec.pdml_protocols])]
        pdml = _tshark(["-n", "-r", str(capture), *options, "-T", "pdml", *only,
                        "-Y", _frame_filter(ragged)], timeout)
        out.update(_records_from_pdml(pdml, spec))
    if spec.require:
        need = [spec.our_paths.index(p) for p in spec.require]
        for frame in list(out):
            out[frame] = [r for r in out[frame] if all(r[i] is not None for i in need)]
            if not out[frame]:
                del out[frame]
    return dict(sorted(out.items()))


def tshark_command(capture: str | os.PathLike, spec: ProtocolSpec, ports: Iterable[int] = (),
                   extra_options: Sequence[str] = ()) -> str:
    """A copy-pastable tshark command showing Wireshark's side (for failure messages)."""
    args = ["tshark", "-n", "-r", str(capture), *spec.options(ports), *extra_options,
            "-Y", spec.filter(), "-T", "fields", "-e", "frame.number"]
    for f in spec.ws_fields:
        args += ["-e", f]
    return " ".join(_shquote(a) for a in args)


def _shquote(s: str) -> str:
    return s if re.match(r"^[\w./:=,+-]+$", s) else "'" + s.replace("'", "'\\''") + "'"


# --------------------------------------------------------------------------------------------
# Our side
# --------------------------------------------------------------------------------------------

class DecoderError(RuntimeError):
    pass


def decoder_command() -> list[str]:
    """How to run our CLI: $WATCHFLOOR_CLI, the venv console script, or ``python -m watchfloor``."""
    env = os.environ.get("WATCHFLOOR_CLI")
    if env:
        return env.split()
    for cand in (REPO / ".venv" / "bin" / "watchfloor", Path(sys.executable).parent / "watchfloor"):
        if cand.exists():
            return [str(cand)]
    return [sys.executable, "-m", "watchfloor"]


def run_decoder(capture: str | os.PathLike, timeout: float = 1800) -> list[dict[str, Any]]:
    """``watchfloor decode CAPTURE --format jsonl`` -> list of events, in output order."""
    cmd = [*decoder_command(), "decode", str(capture), "--format", "jsonl"]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except FileNotFoundError as e:
        raise DecoderError(f"cannot run {cmd[0]}: {e}") from e
    if proc.returncode != 0:
        raise DecoderError(f"{' '.join(cmd)} failed (rc={proc.returncode}):\n"
                           f"{proc.stderr.decode('utf-8', 'replace')[-4000:]}")
    events = []
    for n, line in enumerate(proc.stdout.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except json.JSONDecodeError as e:
            raise DecoderError(f"{' '.join(cmd)}: stdout line {n} is not JSON: {line[:200]!r}") from e
        if not isinstance(ev, dict):
            raise DecoderError(f"{' '.join(cmd)}: stdout line {n} is not a JSON object")
        events.append(ev)
    return events


_MISSING = object()


def get_path(obj: Mapping[str, Any], path: str, default: Any = None) -> Any:
    """Dotted-path lookup in nested objects (also accepts flat dotted keys)."""
    if path in obj:
        return obj[path]
    cur: Any = obj
    parts = path.split(".")
    for i, part in enumerate(parts):
        if not isinstance(cur, Mapping):
            return default
        if part in cur:
            cur = cur[part]
            continue
        rest = ".".join(parts[i:])
        return cur.get(rest, default)
    return cur


def protocol_events(events: Iterable[Mapping[str, Any]], spec: ProtocolSpec) -> list[Mapping[str, Any]]:
    """Events that represent a decoded message of ``spec`` (they carry ``ot.<name>``)."""
    return [e for e in events if get_path(e, f"ot.{spec.name}", _MISSING) is not _MISSING]


def our_records(events: Iterable[Mapping[str, Any]], spec: ProtocolSpec) -> Frames:
    """Our view, grouped like :func:`wireshark_records`; order within a frame = output order."""
    out: Frames = {}
    for ev in protocol_events(events, spec):
        frame = get_path(ev, "pcap.frame")
        if frame is None:
            raise DecoderError(f"{spec.name} event without pcap.frame: {json.dumps(ev)[:300]}")
        if spec.extract is not None:
            recs = spec.extract(ev)
        else:
            recs = [tuple(normalize(get_path(ev, p)) for p in spec.our_paths)]
        if spec.require:  # the same rule as on Wireshark's side
            need = [spec.our_paths.index(p) for p in spec.require]
            recs = [r for r in recs if all(r[i] is not None for i in need)]
            if not recs:
                continue
        out.setdefault(int(frame), []).extend(recs)
    return dict(sorted(out.items()))


def server_ports(events: Iterable[Mapping[str, Any]], spec: ProtocolSpec) -> set[int]:
    """Server ports of ``spec`` traffic in our events: request destination / response source."""
    ports: set[int] = set()
    for ev in protocol_events(events, spec):
        if get_path(ev, "network.transport") not in (None, spec.transport):
            continue
        role = get_path(ev, spec.role_path)
        port = None
        if role == "request":
            port = get_path(ev, "destination.port")
        elif role == "response":
            port = get_path(ev, "source.port")
        if isinstance(port, int):
            ports.add(port)
    return ports


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------

@dataclass
class Comparison:
    capture: str
    spec: ProtocolSpec
    ours: Frames
    theirs: Frames
    mismatches: list[tuple[int, list[Record], list[Record]]] = field(default_factory=list)
    excepted: dict[int, str] = field(default_factory=dict)
    stale_exceptions: list[int] = field(default_factory=list)
    command: str = ""

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def counts(self) -> tuple[int, int]:
        return sum(map(len, self.ours.values())), sum(map(len, self.theirs.values()))

    def summary(self) -> str:
        n_ours, n_theirs = self.counts()
        return (f"{self.spec.name}: {self.capture}: {len(set(self.ours) | set(self.theirs))} frames, "
                f"ours {n_ours} messages, wireshark {n_theirs}; {len(self.mismatches)} mismatching frames; "
                f"{len(self.excepted)} excepted")

    def report(self, limit: int = 20) -> str:
        cols = ", ".join(f"{o.rsplit('.', 1)[-1]}={w if isinstance(w, str) else '|'.join(w)}"
                         for o, w in self.spec.fields)
        lines = [self.summary(), f"  record = ({cols})"]
        if self.command:
            lines.append(f"  wireshark side: {self.command}")
        for frame, ours, theirs in self.mismatches[:limit]:
            lines.append(f"  frame {frame}:")
            lines.append(f"    ours:      {_fmt(ours)}")
            lines.append(f"    wireshark: {_fmt(theirs)}")
        if len(self.mismatches) > limit:
            rest = [f for f, _, _ in self.mismatches[limit:]]
            more = ", ".join(map(str, rest[:50])) + (" ..." if len(rest) > 50 else "")
            lines.append(f"  ... {len(rest)} more mismatching frames: {more}")
        if self.stale_exceptions:
            lines.append(f"  note: excepted frames where both sides now agree: {self.stale_exceptions}")
        return "\n".join(lines)


def _fmt(recs: list[Record]) -> str:
    if not recs:
        return "(nothing)"
    return " ".join("(" + ", ".join("-" if v is None else str(v) for v in r) + ")" for r in recs)


def compare(ours: Frames, theirs: Frames, spec: ProtocolSpec, capture: str = "",
            exceptions: Mapping[int, Any] | None = None, command: str = "") -> Comparison:
    """Frame-by-frame comparison.

    ``exceptions`` maps frame -> reason (a string: the frame is not compared) or
    ``(reason, expected_records)`` (our records must equal ``expected_records``, which replace
    Wireshark's for that frame).
    """
    exceptions = exceptions or {}
    cmp = Comparison(capture=capture, spec=spec, ours=ours, theirs=theirs, command=command)
    for frame in sorted(set(ours) | set(theirs) | set(exceptions)):
        o = ours.get(frame, [])
        t = theirs.get(frame, [])
        exc = exceptions.get(frame)
        if exc is not None:
            reason, expected = (exc, None) if isinstance(exc, str) else exc
            cmp.excepted[frame] = reason
            if o == t:
                cmp.stale_exceptions.append(frame)
            if expected is not None:
                exp = [tuple(normalize(v) for v in r) for r in expected]
                if o != exp:
                    cmp.mismatches.append((frame, o, exp))
            continue
        if o != t:
            cmp.mismatches.append((frame, o, t))
    return cmp


def check_capture(
    capture: str | os.PathLike,
    protocol: str = "modbus",
    ports: Iterable[int] | None = None,
    exceptions: Mapping[int, Any] | None = None,
    extra_options: Sequence[str] = (),
    events: list[dict[str, Any]] | None = None,
) -> Comparison:
    """Run our decoder and tshark on ``capture`` and compare ``protocol`` frame by frame.

    ``ports``: server ports to tell Wireshark about; by default derived from our events
    (request destination ports / response source ports).
    """
    spec = PROTOCOLS[protocol]
    if events is None:
        events = run_decoder(capture)
    if ports is None:
        ports = server_ports(events, spec)
    ports = sorted(set(ports))
    ours = our_records(events, spec)
    theirs = wireshark_records(capture, spec, ports, extra_options)
    return compare(ours, theirs, spec, str(capture), exceptions,
                   tshark_command(capture, spec, ports, extra_options))
