"""DHCP messages → events (`dhcp.*`) and asset observations (a MAC's address and host name)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...schema import Asset, Event, EventMeta, Network
from ...schema.events import Dhcp
from ...schema.time import rfc3339
from .wire import MESSAGE_TYPES, Bootp, fqdn, ips, text

if TYPE_CHECKING:
    from ...capture.flows import Flow

_CATEGORY = ["network"]
_PROTOCOL_TYPE = ["protocol"]
UNSET = "0.0.0.0"


class Emitter:
    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.net = Network(transport=flow.transport, protocol="dhcp",
                           community_id=flow.community_id, vlan_id=flow.vlan)  # fmt: skip

    def message(self, d: int, m: Bootp, ts_ns: int) -> tuple[Event, Event | None]:
        o = m.options
        mtype = o[53][0] if len(o.get(53, b"")) == 1 else None
        name = MESSAGE_TYPES.get(mtype, f"unknown-{mtype}") if mtype is not None else None
        mac = m.chaddr.hex(":") if m.htype == 1 and len(m.chaddr) == 6 else None
        lease = int.from_bytes(o[51], "big") if len(o.get(51, b"")) == 4 else None
        fields = Dhcp(
            op=m.op, transaction_id=m.xid, message_type=mtype, message_type_name=name,
            client_mac=mac, client_ip=m.ciaddr if m.ciaddr != UNSET else None,
            assigned_ip=m.yiaddr if m.yiaddr != UNSET else None,
            requested_ip=ips(o[50])[0] if len(o.get(50, b"")) == 4 else None,
            server_id=ips(o[54])[0] if len(o.get(54, b"")) == 4 else None,
            hostname=text(o[12]) or None if 12 in o else None,
            fqdn=fqdn(o[81]) if 81 in o else None,
            domain=text(o[15]) or None if 15 in o else None,
            vendor_class=text(o[60]) or None if 60 in o else None,
            client_id=o[61].hex() if 61 in o else None, lease_time=lease,
            routers=ips(o[3]) or None if 3 in o else None,
            dns_servers=ips(o[6]) or None if 6 in o else None,
            parameters=list(o[55]) or None if 55 in o else None,
        )  # fmt: skip
        ev = Event(
            timestamp=rfc3339(ts_ns),
            event=EventMeta(id="", kind="event", category=_CATEGORY, type=_PROTOCOL_TYPE,
                            action=f"dhcp_{name or 'bootp'}", dataset="network.dhcp"),  # fmt: skip
            source=self.flow.src(d),
            destination=self.flow.dst(d),
            network=self.net,
            dhcp=fields,
        )
        return ev, self._observation(fields, ts_ns)

    def _observation(self, f: Dhcp, ts_ns: int) -> Event | None:
        """The client's MAC with the address it has, asks for or was given, and its name."""
        if f.client_mac is None or f.message_type in (4, 6, 7):  # decline, nak, release
            return None
        ip = f.assigned_ip if f.message_type == 5 else (f.client_ip or f.requested_ip)
        name = f.fqdn or f.hostname
        if ip is None and name is None:
            return None
        return Event(
            timestamp=rfc3339(ts_ns),
            event=EventMeta(id="", kind="asset", category=["host"], type=["info"],
                            action=f"dhcp_{f.message_type_name or 'bootp'}", dataset="dhcp"),  # fmt: skip
            asset=Asset(ip=ip, mac=f.client_mac, name=name),
        )
