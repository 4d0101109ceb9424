"""Per-stream PROFINET state. Layer 2 (one MAC pair, EtherType 0x8892, one VLAN): DCP messages
paired by Xid, cyclic RT frames summarised per (direction, frame id), RTA alarms. UDP: IO-CM
calls paired by activity UUID and sequence number.

All state is bounded (pending requests, RT streams per flow) and dies with the flow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ...schema.events import ProfinetRt
from ...schema.time import rfc3339
from .._contract import WireError
from .._pending import Pending
from . import emit
from .constants import ALARM_FRAME_IDS, DCP_FRAME_IDS, HELLO, rt_class
from .wire import dcp_fields, frame_id, parse_alarm, parse_dcp, parse_rpc, parse_rt, pnio_body

if TYPE_CHECKING:
    from ...capture.flows import Flow
    from ...capture.tcp import Gap
    from ...schema import Event

MAX_PENDING: Final = 256
MAX_FRAGMENTED: Final = 16  # IO-CM calls being reassembled per flow
MAX_CALL_BYTES: Final = 1 << 20  # a reassembled IO-CM call larger than this is not decoded
MAX_RT_STREAMS: Final = 64  # cyclic frame ids per direction pair; more is a flood
RT_SUMMARY_NS: Final = 60 * 10**9  # a cyclic stream is summarised once a minute and when it ends
UNANSWERED_NS: Final = 30 * 10**9
IDENTITY_REPEAT_NS: Final = 600 * 10**9
# Analysed DCP PDUs by their bytes but the Xid, shared by the process's streams (bounded).
MAX_TEMPLATES: Final = 4096
_TEMPLATES: dict[bytes, emit.DcpTemplate] = {}


class L2Session:
    def __init__(self, flow: Flow, out: list[Event]) -> None:
        self.flow, self.out = flow, out
        self.emitter = emit.Emitter(flow)
        self.pending: Pending[tuple[int, int], tuple[int, int]] = Pending(MAX_PENDING)
        # (direction, frame id) → [packets, bytes, first frame, last frame, first ts, last ts,
        # first cycle, last cycle, status, status changes, repeats, backwards, invalid, backup,
        # stopped, problem, transfer errors]
        self.rt: dict[tuple[int, int], list[int]] = {}
        self.rt_flooded = False
        # (direction, DCP service) → the last asset observation, when: an Identify response and
        # a Get response tell different parts of a device's facts, so each service's are compared
        # with its own previous ones (alternating, they would never compare equal)
        self.identity: dict[tuple[int, int], tuple[Any, int]] = {}
        # per direction: is the address frames of that direction are sent to a known unicast one
        macs = flow.ips  # a layer-2 flow's "addresses" are its MACs (b"" when not captured)
        self.unicast = (bool(macs[1]) and not macs[1][0] & 1, bool(macs[0]) and not macs[0][0] & 1)

    def feed(self, d: int, data: bytes, frame: int, ts_ns: int) -> None:
        try:
            fid = frame_id(data)
            if fid in DCP_FRAME_IDS:
                self._dcp(d, data, frame, ts_ns)
            elif fid in ALARM_FRAME_IDS:
                self.out.append(self.emitter.alarm(d, ts_ns, parse_alarm(data)))
            elif rt_class(fid) is not None:
                self._rt(d, fid, data, frame, ts_ns)
            # other frame ids (PTCP time sync, fragmentation, reserved) are not decoded
        except WireError as e:
            self.out.append(self.emitter.anomaly(d, ts_ns, "malformed", f"PROFINET frame "
                                                 f"{frame} malformed: {e}"))  # fmt: skip

    def gap(self, d: int, gap: Gap, frame: int, ts_ns: int) -> None:  # frames have no gaps
        pass

    def close(self, frame: int, ts_ns: int, reason: str) -> None:
        for key in list(self.rt):
            self._rt_summary(key)
        self.rt.clear()

    # -- DCP -----------------------------------------------------------------------------------
    def _dcp(self, d: int, data: bytes, frame: int, ts_ns: int) -> None:
        key = data[:4] + data[8:]  # everything but the Xid: polls repeat their frames
        tpl = _TEMPLATES.get(key)
        if tpl is None:
            pdu, blocks = parse_dcp(data)
            fields, bad = dcp_fields(pdu["service_id"], pdu["service_type"], blocks)
            tpl = emit.dcp_template(pdu, fields, bad)
            if len(_TEMPLATES) >= MAX_TEMPLATES:
                _TEMPLATES.clear()
            _TEMPLATES[key] = tpl
        sid, stype = tpl.service_id, tpl.service_type
        xid = data[4] << 24 | data[5] << 16 | data[6] << 8 | data[7]
        request = None
        pending = self.pending
        if stype == 0:
            # Only a request to a known unicast address is answered on this stream; one that
            # stayed unanswered for 30 s is given up (DCP retries with a new Xid).
            if sid != HELLO and self.unicast[d]:
                while pending and ts_ns - next(iter(pending.values()))[1] > UNANSWERED_NS:
                    del pending[next(iter(pending))]
                if pending.add((xid, sid), (frame, ts_ns)):
                    self.out.append(self.emitter.anomaly(d, ts_ns, "flooded", f"more than "
                                    f"{MAX_PENDING} DCP requests unanswered"))  # fmt: skip
        else:
            request = pending.pop((xid, sid), None)
        self.out.append(self.emitter.dcp(d, ts_ns, tpl, xid, request))
        asset = tpl.asset
        if asset is not None:  # observed again only when the facts change, or every 10 minutes
            last = self.identity.get((d, sid))
            if last is None or last[0] != asset or ts_ns - last[1] >= IDENTITY_REPEAT_NS:
                self.identity[(d, sid)] = (asset, ts_ns)
                self.out.append(self.emitter.identity(d, ts_ns, asset))

    # -- cyclic data ---------------------------------------------------------------------------
    def _rt(self, d: int, fid: int, data: bytes, frame: int, ts_ns: int) -> None:
        cycle, status, transfer = parse_rt(data)
        key = (d, fid)
        st = self.rt.get(key)
        if st is None:
            if len(self.rt) >= MAX_RT_STREAMS:
                if not self.rt_flooded:
                    self.rt_flooded = True
                    self.out.append(self.emitter.anomaly(d, ts_ns, "rt_streams_flooded", f"more "
                                    f"than {MAX_RT_STREAMS} cyclic frame ids in one stream; the "
                                    "others are not counted"))  # fmt: skip
                return
            st = self.rt[key] = [0, 0, frame, frame, ts_ns, ts_ns, cycle, cycle, status, 0, 0, 0,
                                 0, 0, 0, 0, 0]  # fmt: skip
        else:
            delta = (cycle - st[7]) & 0xFFFF
            if delta == 0:
                st[10] += 1
            elif delta >= 0x8000:
                st[11] += 1
            if status != st[8]:
                st[9] += 1
        st[0] += 1
        st[1] += len(data)
        st[3], st[5], st[7], st[8] = frame, ts_ns, cycle, status
        if not status & 0x04:
            st[12] += 1
        if not status & 0x01:
            st[13] += 1
        if not status & 0x10:
            st[14] += 1
        if not status & 0x20:
            st[15] += 1
        if transfer:
            st[16] += 1
        if ts_ns - st[4] >= RT_SUMMARY_NS:
            self._rt_summary(key)
            del self.rt[key]

    def _rt_summary(self, key: tuple[int, int]) -> None:
        st = self.rt[key]
        d, fid = key
        rt = ProfinetRt(frame_id=fid, rt_class=rt_class(fid) or "unknown", packets=st[0],
                        bytes=st[1], first_frame=st[2], last_frame=st[3],
                        first_seen=rfc3339(st[4]), last_seen=rfc3339(st[5]), first_cycle=st[6],
                        last_cycle=st[7], data_status=st[8], data_status_changes=st[9],
                        cycle_repeats=st[10], cycle_backwards=st[11], invalid=st[12],
                        backup=st[13], stopped=st[14], problem=st[15],
                        transfer_errors=st[16])  # fmt: skip
        self.out.append(self.emitter.rt_summary(d, st[5], rt))


class IoCmSession:
    def __init__(self, flow: Flow, out: list[Event]) -> None:
        self.flow, self.out = flow, out
        self.emitter = emit.Emitter(flow)
        self.pending: Pending[tuple[str, int], tuple[int, int]] = Pending(MAX_PENDING)
        self.fragments: dict[tuple, dict[int, bytes]] = {}

    def feed(self, d: int, data: bytes, frame: int, ts_ns: int) -> None:
        try:
            pdu, body = parse_rpc(data)
        except WireError as e:
            self.out.append(self.emitter.anomaly(d, ts_ns, "malformed", f"IO-CM datagram "
                                                 f"{frame} malformed: {e}"))  # fmt: skip
            return
        ptype = pdu["packet_type"]
        if ptype not in (0, 2, 3, 6):  # ping, working, ack, fack, ...: DCE/RPC housekeeping
            return
        key = (pdu["activity"], pdu["sequence"])
        if pdu["more_fragments"] or pdu["fragment"]:  # a fragment: the last one completes it
            whole = self._reassemble(d, (*key, ptype), pdu, body, frame, ts_ns)
            if whole is None:
                return
            body = whole
        pnio_body(pdu, body)
        request = None
        if ptype == 0:
            if self.pending.add(key, (frame, ts_ns)):
                self.out.append(self.emitter.anomaly(d, ts_ns, "flooded", f"more than "
                                                     f"{MAX_PENDING} IO-CM calls unanswered"))  # fmt: skip
        else:
            request = self.pending.pop(key, None)
        self.out.append(self.emitter.io(d, ts_ns, pdu, request, None))

    def _reassemble(self, d: int, key: tuple, pdu: dict[str, Any], body: bytes, frame: int,
                    ts_ns: int) -> bytes | None:  # fmt: skip
        """The whole body once the last fragment arrived and none is missing, else None."""
        parts = self.fragments.get(key)
        if parts is None:
            if len(self.fragments) >= MAX_FRAGMENTED:
                del self.fragments[next(iter(self.fragments))]
            parts = self.fragments[key] = {}
        parts[pdu["fragment"]] = body
        if pdu["more_fragments"]:
            if sum(map(len, parts.values())) > MAX_CALL_BYTES:
                del self.fragments[key]
                self.out.append(self.emitter.anomaly(d, ts_ns, "call_too_large", f"IO-CM call "
                                f"over {MAX_CALL_BYTES} bytes at frame {frame}; not decoded"))  # fmt: skip
            return None
        del self.fragments[key]
        if len(parts) != pdu["fragment"] + 1 or set(parts) != set(range(len(parts))):
            self.out.append(self.emitter.anomaly(d, ts_ns, "fragment_missing", f"IO-CM call "
                            f"completed at frame {frame} lacks fragments; not decoded"))  # fmt: skip
            return None
        return b"".join(parts[i] for i in range(len(parts)))

    def gap(self, d: int, gap: Gap, frame: int, ts_ns: int) -> None:
        pass

    def close(self, frame: int, ts_ns: int, reason: str) -> None:
        pass
