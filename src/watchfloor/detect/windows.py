"""SigmaHQ's Windows rules on our Windows events, unchanged.

Two halves, one taxonomy:

- `logsource(winlog)`: the Sigma log source of a Windows event: product `windows`, the service of
  its channel (`security`, `sysmon`, `powershell`, ...) and the categories its provider and event
  id stand for (Sysmon 1 and Security 4688 are `process_creation`, Sysmon 13 `registry_set`, ...),
  as SigmaHQ's log source taxonomy defines them.
- `pipeline()` (pySigma): a Windows rule's field names are the event's own names (`Image`,
  `CommandLine`, `TargetObject`, ...), so they address `winlog.event_data.<name>`; the few System
  fields rules use (`EventID`, `Channel`, `Provider_Name`, `Computer`) address `winlog.*`. For
  `process_creation`, the Security log's 4688 names (`NewProcessName`, `ParentProcessName`) are
  alternatives of Sysmon's (`Image`, `ParentImage`), so those rules match either log.
"""

from __future__ import annotations

from typing import Any

from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldFunctionTransformation, FieldMappingTransformation

EVENT_DATA = "winlog.event_data."

#: Sigma service → Windows channel (SigmaHQ log source taxonomy).
SERVICES: dict[str, str] = {
    "security": "Security",
    "system": "System",
    "application": "Application",
    "sysmon": "Microsoft-Windows-Sysmon/Operational",
    "powershell": "Microsoft-Windows-PowerShell/Operational",
    "powershell-classic": "Windows PowerShell",
    "taskscheduler": "Microsoft-Windows-TaskScheduler/Operational",
    "wmi": "Microsoft-Windows-WMI-Activity/Operational",
    "dns-server": "DNS Server",
    "dns-server-analytic": "Microsoft-Windows-DNS-Server/Analytical",
    "dns-client": "Microsoft-Windows-DNS Client Events/Operational",
    "driver-framework": "Microsoft-Windows-DriverFrameworks-UserMode/Operational",
    "ntlm": "Microsoft-Windows-NTLM/Operational",
    "dhcp": "Microsoft-Windows-DHCP-Server/Operational",
    "msexchange-management": "MSExchange Management",
    "printservice-admin": "Microsoft-Windows-PrintService/Admin",
    "printservice-operational": "Microsoft-Windows-PrintService/Operational",
    "codeintegrity-operational": "Microsoft-Windows-CodeIntegrity/Operational",
    "smbclient-security": "Microsoft-Windows-SmbClient/Security",
    "smbclient-connectivity": "Microsoft-Windows-SmbClient/Connectivity",
    "firewall-as": "Microsoft-Windows-Windows Firewall With Advanced Security/Firewall",
    "bits-client": "Microsoft-Windows-Bits-Client/Operational",
    "windefend": "Microsoft-Windows-Windows Defender/Operational",
    "terminalservices-localsessionmanager":
        "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
    "microsoft-servicebus-client": "Microsoft-ServiceBus-Client",
    "ldap": "Microsoft-Windows-LDAP-Client/Debug",
    "diagnosis-scripted": "Microsoft-Windows-Diagnosis-Scripted/Operational",
    "shell-core": "Microsoft-Windows-Shell-Core/Operational",
    "openssh": "OpenSSH/Operational",
    "bitlocker": "Microsoft-Windows-BitLocker/BitLocker Management",
    "vhdmp": "Microsoft-Windows-VHDMP/Operational",
    "appxdeployment-server": "Microsoft-Windows-AppXDeploymentServer/Operational",
    "lsa-server": "Microsoft-Windows-LSA/Operational",
    "appxpackaging-om": "Microsoft-Windows-AppxPackaging/Operational",
    "capi2": "Microsoft-Windows-CAPI2/Operational",
    "certificateservicesclient-lifecycle-system":
        "Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational",
    "appmodel-runtime": "Microsoft-Windows-AppModel-Runtime/Admin",
    "kernel-shimengine": "Microsoft-Windows-Kernel-ShimEngine/Operational",
    "hyper-v-worker": "Microsoft-Windows-Hyper-V-Worker",
    "iis-configuration": "Microsoft-IIS-Configuration/Operational",
    "security-mitigations": "Microsoft-Windows-Security-Mitigations/Kernel Mode",
    "sense": "Microsoft-Windows-SENSE/Operational",
}  # fmt: skip
_BY_CHANNEL = {channel.lower(): service for service, channel in SERVICES.items()}
_BY_CHANNEL["microsoft-windows-security-mitigations/user mode"] = "security-mitigations"
_APPLOCKER = "microsoft-windows-applocker/"

#: Sysmon event id → Sigma categories.
SYSMON_CATEGORIES: dict[int, tuple[str, ...]] = {
    1: ("process_creation",), 2: ("file_change",), 3: ("network_connection",),
    4: ("sysmon_status",), 5: ("process_termination",), 6: ("driver_load",), 7: ("image_load",),
    8: ("create_remote_thread",), 9: ("raw_access_thread",), 10: ("process_access",),
    11: ("file_event",), 12: ("registry_event",), 13: ("registry_event", "registry_set"),
    14: ("registry_event", "registry_rename"), 15: ("create_stream_hash",), 16: ("sysmon_status",),
    17: ("pipe_created",), 18: ("pipe_created",), 19: ("wmi_event",), 20: ("wmi_event",),
    21: ("wmi_event",), 22: ("dns_query",), 23: ("file_delete",), 24: ("clipboard_capture",),
    25: ("process_tampering",), 26: ("file_delete",), 27: ("file_block_executable",),
    28: ("file_block_shredding",), 29: ("file_executable_detected",), 255: ("sysmon_error",),
}  # fmt: skip
#: (service, event id) → Sigma categories, for the other logs with categories.
OTHER_CATEGORIES: dict[tuple[str, int], tuple[str, ...]] = {
    ("security", 4688): ("process_creation",),
    ("powershell", 4103): ("ps_module",),
    ("powershell", 4104): ("ps_script",),
    ("powershell-classic", 400): ("ps_classic_start",),
    ("powershell-classic", 600): ("ps_classic_provider_start",),
    ("powershell-classic", 800): ("ps_classic_script",),
}


def service_of(channel: str | None) -> str | None:
    if not channel:
        return None
    c = channel.lower()
    if c.startswith(_APPLOCKER):
        return "applocker"
    return _BY_CHANNEL.get(c)


def logsource(winlog: Any) -> tuple[tuple[str, ...], str, tuple[str, ...]]:
    """(categories, "windows", services) of a Windows event (`winlog` as Struct or dict)."""
    get = winlog.get if isinstance(winlog, dict) else lambda k: getattr(winlog, k, None)
    service = service_of(get("channel"))
    event_id = get("event_id")
    try:
        event_id = int(event_id) if event_id is not None else None
    except (TypeError, ValueError):
        event_id = None
    categories: tuple[str, ...] = ()
    if service == "sysmon" and event_id is not None:
        categories = SYSMON_CATEGORIES.get(event_id, ())
        if event_id == 12:
            data = get("event_data") or {}
            kind = str(data.get("EventType", "")).lower()
            categories += ("registry_add",) if kind == "createkey" else (
                ("registry_delete",) if kind.startswith("delete") else ())  # fmt: skip
    elif service is not None and event_id is not None:
        categories = OTHER_CATEGORIES.get((service, event_id), ())
    return categories, "windows", (service,) if service else ()


#: Sigma's System field names → ours.
SYSTEM_FIELDS: dict[str | None, str | list[str]] = {
    "EventID": "winlog.event_id",
    "Channel": "winlog.channel",
    "Provider_Name": "winlog.provider_name",
    "Provider": "winlog.provider_name",
    "Computer": "winlog.computer_name",
    "ComputerName": "winlog.computer_name",
    "EventRecordID": "winlog.record_id",
    "Level": "winlog.level",
    "Task": "winlog.task",
    "Opcode": "winlog.opcode",
    "Keywords": "winlog.keywords",
    "Version": "winlog.version",
}
#: process_creation: Security 4688's names as alternatives of Sysmon's.
PROCESS_CREATION: dict[str | None, str | list[str]] = {
    "Image": [EVENT_DATA + "Image", EVENT_DATA + "NewProcessName"],
    "ParentImage": [EVENT_DATA + "ParentImage", EVENT_DATA + "ParentProcessName"],
}


def _event_data(field: str | None) -> str:
    """A rule's field → the event data value of that name (names mapped already stay)."""
    if not field or field.startswith("winlog."):
        return field  # type: ignore[return-value]
    return EVENT_DATA + field


def pipeline() -> ProcessingPipeline:
    windows = [LogsourceCondition(product="windows")]
    return ProcessingPipeline(
        name="SigmaHQ Windows rules → Watchfloor winlog events", priority=20,
        items=[
            ProcessingItem(
                FieldMappingTransformation(PROCESS_CREATION), identifier="windows_4688_names",
                rule_conditions=[LogsourceCondition(category="process_creation",
                                                    product="windows")]),
            ProcessingItem(
                FieldFunctionTransformation(mapping=SYSTEM_FIELDS, transform_func=_event_data),
                identifier="windows_event_data", rule_conditions=windows),
        ],
    )  # fmt: skip
