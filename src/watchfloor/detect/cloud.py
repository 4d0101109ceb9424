"""SigmaHQ's cloud rules (AWS CloudTrail, Azure Activity, Entra ID sign-in and audit logs) on our
cloud events, unchanged.

These rules are written against the log's own records (`eventSource`, `eventName`,
`requestParameters.bucketName`, `userIdentity.type`; Azure `operationName`, `ResultType`,
`properties.*`), and every cloud event keeps its record in `event.original`; the pipeline points
a rule's field at `event.original.<field>` (the detection engine decodes the record once per
event when a rule asks, see `sigma.View`). Azure diagnostic records put most values under
`properties`, Graph records at the top level, so an Azure field is looked up in both places.
The event's Sigma log source comes from `event.dataset` (`aws.cloudtrail` → product aws,
service cloudtrail; `azure.signinlogs` → azure / signinlogs; ...).
"""

from __future__ import annotations

from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldFunctionTransformation

from .sigma import ORIGINAL

#: event.dataset → (Sigma product, service)
DATASETS = {
    "aws.cloudtrail": ("aws", "cloudtrail"),
    "azure.activitylogs": ("azure", "activitylogs"),
    "azure.signinlogs": ("azure", "signinlogs"),
    "azure.auditlogs": ("azure", "auditlogs"),
}


def logsource(dataset: str | None) -> tuple[str, str] | None:
    return DATASETS.get(dataset or "")


def _aws(field: str | None) -> str:
    return ORIGINAL + field if field else field  # type: ignore[return-value]


def _azure(field: str | None) -> str | list[str]:  # type: ignore[return]
    if not field:
        return field  # type: ignore[return-value]
    return [ORIGINAL + field, ORIGINAL + "properties." + field]


class _AzureFields(FieldFunctionTransformation):
    def apply_field_name(self, field):  # type: ignore[no-untyped-def,override]
        if field is None:
            return None
        return _azure(field)


def pipeline() -> ProcessingPipeline:
    return ProcessingPipeline(
        name="SigmaHQ cloud rules → Watchfloor cloud events (original record)", priority=20,
        items=[
            ProcessingItem(FieldFunctionTransformation(mapping={}, transform_func=_aws),
                           identifier="aws_original", rule_conditions=[LogsourceCondition(product="aws")]),
            ProcessingItem(_AzureFields(mapping={}, transform_func=_aws),
                           identifier="azure_original",
                           rule_conditions=[LogsourceCondition(product="azure")]),
        ],
    )  # fmt: skip
