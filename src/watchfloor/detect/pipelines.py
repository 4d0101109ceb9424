"""Field-mapping pipelines (pySigma): rules written for another tool's field names run on our events.

`zeek`: rules over Zeek and CISA ICSNPP logs (`logsource: {product: zeek, service: modbus}`, fields
such as `func`, `unit`, `fc_request`, `rosctr_name`) are rewritten to our OT log sources and
fields, so the same rule matches what our decoders emit. Names of operations compare as text
case-insensitively, so ICSNPP's `WRITE_SINGLE_REGISTER` meets our `write_single_register`.
Connection fields follow the request: `id.orig_h`/`id.orig_p` are the sender of a request
(`source.*`), `id.resp_h`/`id.resp_p` its receiver. ICSNPP fields with no counterpart here (e.g.
`pdu_type`, whose values differ from `ot.role`) are left as they are, so a rule using them loads
but cannot match; `watchfloor rules list` shows the log source each rule ended up with.
"""

from __future__ import annotations

from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import (
    ChangeLogsourceTransformation,
    FieldMappingTransformation,
)

FieldMap = dict[str | None, str | list[str]]  # pySigma's field-mapping type

_CONNECTION: FieldMap = {
    "id.orig_h": "source.ip", "id.orig_p": "source.port",
    "id.resp_h": "destination.ip", "id.resp_p": "destination.port",
}  # fmt: skip

#: Zeek/ICSNPP service → (our protocol, field mapping). One table: the logsource and fields move together.
ZEEK_OT: dict[str, tuple[str, FieldMap]] = {
    "modbus": ("modbus", {"tid": "ot.modbus.transaction_id", "unit": "ot.modbus.unit_id",
                          "func": "ot.modbus.function", "exception": "ot.modbus.exception"}),
    "dnp3": ("dnp3", {"fc_request": "ot.dnp3.function", "fc_reply": "ot.dnp3.function",
                      "iin": "ot.dnp3.iin"}),
    "s7comm": ("s7comm", {"rosctr_code": "ot.s7comm.rosctr", "rosctr_name": "ot.s7comm.rosctr_name",
                          "pdu_reference": "ot.s7comm.pdu_reference",
                          "function_code": "ot.s7comm.function_code", "function_name": "ot.s7comm.function",
                          "subfunction_code": "ot.s7comm.userdata_subfunction",
                          "subfunction_name": "ot.s7comm.userdata_subfunction_name",
                          "error_class": "ot.s7comm.error_class", "error_code": "ot.s7comm.error_code"}),
    "s7comm_plus": ("s7comm", {"version": "ot.s7comm_plus.version", "opcode": "ot.s7comm_plus.opcode",
                               "opcode_name": "ot.s7comm_plus.opcode_name",
                               "function_code": "ot.s7comm_plus.function_code",
                               "function_name": "ot.s7comm_plus.function"}),
    "enip": ("enip", {"enip_command_code": "ot.enip.command", "enip_command": "ot.enip.command_name",
                      "session_handle": "ot.enip.session_handle", "enip_status": "ot.enip.status_name"}),
    "cip": ("enip", {"cip_service_code": "ot.cip.service", "cip_service": "ot.cip.service_name",
                     "class_id": "ot.cip.class_id", "class_name": "ot.cip.class_name",
                     "instance_id": "ot.cip.instance_id", "attribute_id": "ot.cip.attribute_id",
                     "cip_status_code": "ot.cip.status"}),
}  # fmt: skip


def zeek() -> ProcessingPipeline:
    items = []
    for service, (protocol, fields) in ZEEK_OT.items():

        def only(service: str = service) -> list:  # a condition belongs to one processing item
            return [LogsourceCondition(product="zeek", service=service)]

        mapping = {**_CONNECTION, **fields}
        items.append(
            ProcessingItem(
                FieldMappingTransformation(mapping),
                identifier=f"zeek_{service}_fields",
                rule_conditions=only(),
            )
        )
        items.append(
            ProcessingItem(
                ChangeLogsourceTransformation(product="ot", service=protocol),
                identifier=f"zeek_{service}_logsource",
                rule_conditions=only(),
            )
        )
    return ProcessingPipeline(name="Zeek and CISA ICSNPP logs → Watchfloor OT events", priority=20,
                              items=items)  # fmt: skip


def windows() -> ProcessingPipeline:
    from .windows import pipeline

    return pipeline()


PIPELINES = {"zeek": zeek, "windows": windows}
