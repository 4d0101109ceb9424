"""Detection: Sigma rules over events (rules.py, sigma.py), alerts (alerts.py), the built-in pack.

Kept light: importing this package does not import pySigma (the decoder CLI must start fast)."""

import re
from collections.abc import Sequence

#: Sigma rule level → `event.severity` of its alerts.
SEVERITY = {"informational": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}

#: Tag namespaces that name a framework outcome rather than ATT&CK (see rules/README.md).
FRAMEWORK_NAMESPACES = ("caf.", "nis2.", "iec62443.")
_TECHNIQUE = re.compile(r"^attack\.(t\d{4}(?:\.\d{3})?)$", re.IGNORECASE)


def techniques(tags: Sequence[str]) -> list[str]:
    """ATT&CK technique ids named by Sigma tags (`attack.t0836` → T0836)."""
    return [m.group(1).upper() for t in tags if (m := _TECHNIQUE.match(t))]


#: ATT&CK tactics as Sigma tags name them (hyphenated; SigmaHQ's older rules use underscores).
#: Enterprise and ICS share several names (execution, discovery, ...): the technique says which.
TACTICS = frozenset((
    "reconnaissance", "resource-development", "initial-access", "execution", "persistence",
    "privilege-escalation", "defense-evasion", "credential-access", "discovery", "lateral-movement",
    "collection", "command-and-control", "exfiltration", "impact",
    "evasion", "inhibit-response-function", "impair-process-control",
))  # fmt: skip


def tactics(tags: Sequence[str]) -> list[str]:
    """ATT&CK tactics named by Sigma tags (`attack.credential_access` → credential-access)."""
    found = []
    for t in tags:
        ns, _, name = t.lower().partition(".")
        name = name.replace("_", "-")
        if ns == "attack" and name in TACTICS and name not in found:
            found.append(name)
    return found
