"""OPC UA code tables, each defined once.

Sources: OPC 10000-6 (Mappings) §7.1.2 (UA Connection Protocol message and chunk types),
§6.7.2 (security headers); OPC 10000-4 (Services) §5 (service sets), §7.38 (status codes);
the node ids of the DefaultBinary encodings are those of the published NodeIds.csv.
"""

from __future__ import annotations

from typing import NamedTuple

DEFAULT_PORTS = frozenset({4840})

MESSAGE_TYPES = frozenset((b"HEL", b"ACK", b"OPN", b"MSG", b"CLO", b"ERR", b"RHE"))
SECURE_TYPES = frozenset((b"OPN", b"MSG", b"CLO"))  # carry a secure-channel header
CHUNK_TYPES = frozenset((b"F", b"C", b"A"))
HEADER = 8  # message type (3), chunk type (1), message size (4)
MIN_BUFFER = 8192  # Part 6 §7.1.2.3: the smallest buffer a peer may announce
# Reassembly bounds (per message): Part 6 lets MaxChunkCount/MaxMessageSize be 0 = "no limit";
# a sensor cannot follow that, so it caps both.
MAX_CHUNK_SIZE = 1 << 24
MAX_CHUNKS = 4096
MAX_MESSAGE = 1 << 25

SECURITY_POLICY_NONE = "http://opcfoundation.org/UA/SecurityPolicy#None"
SECURITY_MODES = {0: "invalid", 1: "none", 2: "sign", 3: "sign_and_encrypt"}
REQUEST_TYPES = {0: "issue", 1: "renew"}


class Service(NamedTuple):
    name: str  # snake_case, without Request/Response
    operation: str  # ot.action.operation
    request: bool  # the encoding id names a request (False: a response or ServiceFault)


_SERVICES: tuple[tuple[int, int, str, str], ...] = (
    # request id, response id, name, operation
    (422, 425, "find_servers", "discovery"),
    (12208, 12209, "find_servers_on_network", "discovery"),
    (428, 431, "get_endpoints", "discovery"),
    (437, 440, "register_server", "config"),
    (12211, 12212, "register_server2", "config"),
    (446, 449, "open_secure_channel", "session"),
    (452, 455, "close_secure_channel", "session"),
    (461, 464, "create_session", "session"),
    (467, 470, "activate_session", "session"),
    (473, 476, "close_session", "session"),
    (479, 482, "cancel", "session"),
    (488, 491, "add_nodes", "config"),
    (494, 497, "add_references", "config"),
    (500, 503, "delete_nodes", "config"),
    (506, 509, "delete_references", "config"),
    (527, 530, "browse", "read"),
    (533, 536, "browse_next", "read"),
    (554, 557, "translate_browse_paths_to_node_ids", "read"),
    (560, 563, "register_nodes", "read"),
    (566, 569, "unregister_nodes", "read"),
    (615, 618, "query_first", "read"),
    (621, 624, "query_next", "read"),
    (631, 634, "read", "read"),
    (664, 667, "history_read", "read"),
    (673, 676, "write", "write"),
    (700, 703, "history_update", "write"),
    (712, 715, "call", "control"),
    (751, 754, "create_monitored_items", "read"),
    (763, 766, "modify_monitored_items", "read"),
    (769, 772, "set_monitoring_mode", "read"),
    (775, 778, "set_triggering", "read"),
    (781, 784, "delete_monitored_items", "read"),
    (787, 790, "create_subscription", "read"),
    (793, 796, "modify_subscription", "read"),
    (799, 802, "set_publishing_mode", "read"),
    (826, 829, "publish", "read"),
    (832, 835, "republish", "read"),
    (841, 844, "transfer_subscriptions", "read"),
    (847, 850, "delete_subscriptions", "read"),
    (410, 413, "test_stack", "diagnostic"),
    (416, 419, "test_stack_ex", "diagnostic"),
)

SERVICE_FAULT = 397
SERVICES: dict[int, Service] = {SERVICE_FAULT: Service("service_fault", "other", False)}
for _req, _resp, _name, _op in _SERVICES:
    SERVICES[_req] = Service(_name, _op, True)
    SERVICES[_resp] = Service(_name, _op, False)
RESPONSE_OF = {req: resp for req, resp, _, _ in _SERVICES}

# Fixed ids the decoder looks for.
OPN_REQUEST, OPN_RESPONSE, CLO_REQUEST = 446, 449, 452
GET_ENDPOINTS_RESPONSE, FIND_SERVERS_RESPONSE, CREATE_SESSION_RESPONSE = 431, 425, 464
ACTIVATE_SESSION_REQUEST = 467

# ActivateSession user identity tokens (DefaultBinary encoding ids → token type)
IDENTITY_TOKENS = {321: "anonymous", 324: "username", 327: "certificate", 940: "issued_token"}
USER_TOKEN_TYPES = {0: "anonymous", 1: "username", 2: "certificate", 3: "issued_token"}

# Part 3 §5.9: attribute ids
ATTRIBUTES = {
    1: "NodeId", 2: "NodeClass", 3: "BrowseName", 4: "DisplayName", 5: "Description",
    6: "WriteMask", 7: "UserWriteMask", 8: "IsAbstract", 9: "Symmetric", 10: "InverseName",
    11: "ContainsNoLoops", 12: "EventNotifier", 13: "Value", 14: "DataType", 15: "ValueRank",
    16: "ArrayDimensions", 17: "AccessLevel", 18: "UserAccessLevel",
    19: "MinimumSamplingInterval", 20: "Historizing", 21: "Executable", 22: "UserExecutable",
    23: "DataTypeDefinition", 24: "RolePermissions", 25: "UserRolePermissions",
    26: "AccessRestrictions", 27: "AccessLevelEx",
}  # fmt: skip

NODE_CLASSES = {0: "unspecified", 1: "object", 2: "variable", 4: "method", 8: "object_type",
                16: "variable_type", 32: "reference_type", 64: "data_type", 128: "view"}  # fmt: skip

# Part 4 §7.38 / Part 6 Annex A: the status codes seen in practice (Good = 0; the top two bits
# give the severity). Others decode as their hex value.
STATUS_CODES = {
    0x00000000: "Good",
    0x80010000: "BadUnexpectedError", 0x80020000: "BadInternalError",
    0x80030000: "BadOutOfMemory", 0x80040000: "BadResourceUnavailable",
    0x80050000: "BadCommunicationError", 0x80060000: "BadEncodingError",
    0x80070000: "BadDecodingError", 0x80080000: "BadEncodingLimitsExceeded",
    0x80B80000: "BadRequestTooLarge", 0x80B90000: "BadResponseTooLarge",
    0x80090000: "BadUnknownResponse", 0x800A0000: "BadTimeout",
    0x800B0000: "BadServiceUnsupported", 0x800C0000: "BadShutdown",
    0x800D0000: "BadServerNotConnected", 0x800E0000: "BadServerHalted",
    0x800F0000: "BadNothingToDo", 0x80100000: "BadTooManyOperations",
    0x80110000: "BadDataTypeIdUnknown", 0x80120000: "BadCertificateInvalid",
    0x80130000: "BadSecurityChecksFailed", 0x80140000: "BadCertificateTimeInvalid",
    0x80170000: "BadCertificateUntrusted", 0x80180000: "BadCertificateUseNotAllowed",
    0x801A0000: "BadCertificateUriInvalid", 0x801D0000: "BadCertificateRevoked",
    0x801F0000: "BadUserAccessDenied", 0x80200000: "BadIdentityTokenInvalid",
    0x80210000: "BadIdentityTokenRejected", 0x80220000: "BadSecureChannelIdInvalid",
    0x80230000: "BadInvalidTimestamp", 0x80240000: "BadNonceInvalid",
    0x80250000: "BadSessionIdInvalid", 0x80260000: "BadSessionClosed",
    0x80270000: "BadSessionNotActivated", 0x80280000: "BadSubscriptionIdInvalid",
    0x802A0000: "BadRequestHeaderInvalid", 0x802B0000: "BadTimestampsToReturnInvalid",
    0x802C0000: "BadRequestCancelledByClient", 0x80330000: "BadNodeIdInvalid",
    0x80340000: "BadNodeIdUnknown", 0x80350000: "BadAttributeIdInvalid",
    0x80360000: "BadIndexRangeInvalid", 0x80370000: "BadIndexRangeNoData",
    0x80380000: "BadDataEncodingInvalid", 0x80390000: "BadDataEncodingUnsupported",
    0x803A0000: "BadNotReadable", 0x803B0000: "BadNotWritable",
    0x803C0000: "BadOutOfRange", 0x803D0000: "BadNotSupported",
    0x803E0000: "BadNotFound", 0x803F0000: "BadObjectDeleted",
    0x80400000: "BadNotImplemented", 0x80410000: "BadMonitoringModeInvalid",
    0x80420000: "BadMonitoredItemIdInvalid", 0x80450000: "BadFilterNotAllowed",
    0x804C0000: "BadContinuationPointInvalid", 0x804D0000: "BadNoContinuationPoints",
    0x804E0000: "BadReferenceTypeIdInvalid", 0x804F0000: "BadBrowseDirectionInvalid",
    0x80500000: "BadNodeNotInView", 0x80510000: "BadServerUriInvalid",
    0x80520000: "BadServerNameMissing", 0x80530000: "BadDiscoveryUrlMissing",
    0x80550000: "BadSempahoreFileMissing", 0x80560000: "BadRequestTypeInvalid",
    0x80570000: "BadSecurityModeRejected", 0x80580000: "BadSecurityPolicyRejected",
    0x80590000: "BadTooManySessions", 0x805A0000: "BadUserSignatureInvalid",
    0x805B0000: "BadApplicationSignatureInvalid", 0x805C0000: "BadNoValidCertificates",
    0x805E0000: "BadRequestCancelledByRequest", 0x805F0000: "BadParentNodeIdInvalid",
    0x80600000: "BadReferenceNotAllowed", 0x80610000: "BadNodeIdRejected",
    0x80620000: "BadNodeIdExists", 0x80630000: "BadNodeClassInvalid",
    0x80640000: "BadBrowseNameInvalid", 0x80650000: "BadBrowseNameDuplicated",
    0x80660000: "BadNodeAttributesInvalid", 0x80670000: "BadTypeDefinitionInvalid",
    0x80680000: "BadSourceNodeIdInvalid", 0x80690000: "BadTargetNodeIdInvalid",
    0x806A0000: "BadDuplicateReferenceNotAllowed", 0x806B0000: "BadInvalidSelfReference",
    0x806C0000: "BadReferenceLocalOnly", 0x806D0000: "BadNoDeleteRights",
    0x806F0000: "BadServerIndexInvalid", 0x80700000: "BadViewIdUnknown",
    0x80720000: "BadTooManyMatches", 0x80740000: "BadTypeMismatch",
    0x80750000: "BadMethodInvalid", 0x80760000: "BadArgumentsMissing",
    0x80770000: "BadTooManySubscriptions", 0x80780000: "BadTooManyPublishRequests",
    0x80790000: "BadNoSubscription", 0x807A0000: "BadSequenceNumberUnknown",
    0x807B0000: "BadMessageNotAvailable", 0x807C0000: "BadInsufficientClientProfile",
    0x807E0000: "BadTcpServerTooBusy", 0x807F0000: "BadTcpMessageTypeInvalid",
    0x80800000: "BadTcpSecureChannelUnknown", 0x80810000: "BadTcpMessageTooLarge",
    0x80820000: "BadTcpNotEnoughResources", 0x80830000: "BadTcpInternalError",
    0x80840000: "BadTcpEndpointUrlInvalid", 0x80850000: "BadRequestInterrupted",
    0x80860000: "BadRequestTimeout", 0x80870000: "BadSecureChannelClosed",
    0x80880000: "BadSecureChannelTokenUnknown", 0x80890000: "BadSequenceNumberInvalid",
    0x808A0000: "BadConfigurationError", 0x808B0000: "BadNotConnected",
    0x808C0000: "BadDeviceFailure", 0x808D0000: "BadSensorFailure",
    0x808E0000: "BadOutOfService", 0x808F0000: "BadDeadbandFilterInvalid",
    0x80AB0000: "BadInvalidArgument", 0x80AC0000: "BadConnectionRejected",
    0x80AD0000: "BadDisconnect", 0x80AE0000: "BadConnectionClosed",
    0x80AF0000: "BadInvalidState", 0x80B00000: "BadEndOfStream",
    0x80B10000: "BadNoDataAvailable", 0x80B20000: "BadWaitingForResponse",
    0x80B30000: "BadOperationAbandoned", 0x80B40000: "BadExpectedStreamToBlock",
    0x80B50000: "BadWouldBlock", 0x80B60000: "BadSyntaxError",
    0x80B70000: "BadMaxConnectionsReached",
    0x00A50000: "GoodSubscriptionTransferred", 0x00A90000: "GoodCompletesAsynchronously",
    0x00AA0000: "GoodOverload", 0x00AB0000: "GoodClamped",
    0x40900000: "UncertainNoCommunicationLastUsableValue", 0x40910000: "UncertainLastUsableValue",
    0x40920000: "UncertainSubstituteValue", 0x40930000: "UncertainInitialValue",
    0x40940000: "UncertainSensorNotAccurate", 0x40950000: "UncertainEngineeringUnitsExceeded",
    0x40960000: "UncertainSubNormal",
}  # fmt: skip


def status_name(code: int) -> str:
    name = STATUS_CODES.get(code & 0xFFFF0000)
    return name if name is not None else f"0x{code:08X}"


def service_name(encoding_id: int) -> str:
    s = SERVICES.get(encoding_id)
    return s.name if s else f"unknown-{encoding_id}"
