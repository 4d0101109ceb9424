"""DNS / mDNS / LLMNR messages → events (`dns.*`, ECS) and asset observations (names)."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Literal

from ...schema import Asset, Event, EventMeta, Network
from ...schema.events import Dns, DnsAnswer, DnsQuestion
from ...schema.time import rfc3339
from .wire import CLASSES, OPCODES, RCODES, TYPES, Message, netbios_name

if TYPE_CHECKING:
    from ...capture.flows import Flow

_CATEGORY = ["network"]
_PROTOCOL_TYPE = ["protocol"]
_ASSET_TYPE = ["info"]


NBNS_TYPES = {32: "NB", 33: "NBSTAT"}  # NetBIOS-NS reuses the format with its own types
NBNS_OPCODES = {0: "QUERY", 5: "REGISTRATION", 6: "RELEASE", 7: "WACK", 8: "REFRESH"}


def _type(n: int, nbns: bool = False) -> str:
    return (NBNS_TYPES.get(n) if nbns else None) or TYPES.get(n, f"unknown-{n}")


def _reverse_ip(name: str) -> str | None:
    """The address a PTR query's name stands for (1.2.0.10.in-addr.arpa → 10.0.2.1)."""
    low = name.lower()
    try:
        if low.endswith(".in-addr.arpa"):
            parts = low[: -len(".in-addr.arpa")].split(".")
            return str(ipaddress.IPv4Address(".".join(reversed(parts)))) if len(parts) == 4 else None
        if low.endswith(".ip6.arpa"):
            nibbles = low[: -len(".ip6.arpa")].split(".")
            if len(nibbles) == 32:
                return str(ipaddress.IPv6Address(int("".join(reversed(nibbles)), 16)))
    except ValueError:
        return None
    return None


class Emitter:
    def __init__(self, flow: Flow, protocol: str) -> None:
        self.flow, self.protocol = flow, protocol
        self.net = Network(transport=flow.transport, protocol=protocol,
                           community_id=flow.community_id, vlan_id=flow.vlan)  # fmt: skip

    def message(self, d: int, msg: Message, ts_ns: int) -> Event:
        h = msg.header
        nb = self.protocol == "nbns"
        q = msg.questions[0] if msg.questions else None
        answers = [DnsAnswer(data=r.data, type=_type(r.type, nb), ttl=r.ttl, name=self._name(r.name))
                   for r in msg.answers if r.data is not None] or None  # fmt: skip
        resolved = [r.data for r in msg.answers if r.type in ((32,) if nb else (1, 28)) and r.data] or None
        opcodes = NBNS_OPCODES if nb else OPCODES
        kind: Literal["query", "answer"] = "answer" if h.response else "query"
        return Event(
            timestamp=rfc3339(ts_ns),
            event=EventMeta(id="", kind="event", category=_CATEGORY, type=_PROTOCOL_TYPE,
                            action=f"{self.protocol}_{kind}", dataset=f"network.{self.protocol}",
                            outcome=("success" if h.rcode == 0 else "failure") if h.response else None),  # fmt: skip
            source=self.flow.src(d),
            destination=self.flow.dst(d),
            network=self.net,
            dns=Dns(id=h.id, type=kind, op_code=opcodes.get(h.opcode, f"unknown-{h.opcode}"),
                    question=DnsQuestion(name=self._name(q.name), type=_type(q.type, nb),
                                         class_=CLASSES.get(q.klass & 0x7FFF, f"unknown-{q.klass & 0x7FFF}"))
                    if q else None,
                    answers=answers, resolved_ip=resolved,
                    response_code=RCODES.get(h.rcode, f"unknown-{h.rcode}") if h.response else None,
                    header_flags=h.flag_names() or None),  # fmt: skip
        )

    def _name(self, name: str) -> str:
        """NetBIOS names decoded (with their suffix, as Wireshark shows them: NAME<20>)."""
        if self.protocol != "nbns":
            return name
        nb = netbios_name(name)
        return name if nb is None else f"{nb[0]}<{nb[1]:02x}>"

    def names(self, msg: Message, ts_ns: int) -> list[Event]:
        """Names bound to addresses by an answer: A/AAAA records (a name's address; in mDNS and
        LLMNR the device announcing its own name) and PTR answers (an address's name)."""
        out: list[Event] = []
        seen: set[tuple[str, str]] = set()
        for r in (*msg.answers, *msg.additional):
            if r.data is None:
                continue
            ip: str | None
            if self.protocol == "nbns":
                nb = netbios_name(r.name) if r.type == 32 else None
                if nb is None or nb[1] not in (0x00, 0x20):  # a computer's name, not a group's
                    continue
                ip, name = r.data, nb[0]
            elif r.type in (1, 28):
                ip, name = r.data, r.name
            elif r.type == 12:
                ip, name = _reverse_ip(r.name), r.data
            else:
                continue
            if ip is None or (ip, name) in seen:
                continue
            seen.add((ip, name))
            out.append(Event(
                timestamp=rfc3339(ts_ns),
                event=EventMeta(id="", kind="asset", category=["host"], type=_ASSET_TYPE,
                                action=f"{self.protocol}_name", dataset=self.protocol),  # fmt: skip
                asset=Asset(ip=ip, name=name.rstrip(".")),
            ))
        return out
