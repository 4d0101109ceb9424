"""Detection: Sigma rules over events (rules.py, sigma.py), alerts (alerts.py), the built-in pack.

Kept light: importing this package does not import pySigma (the decoder CLI must start fast)."""

#: Sigma rule level → `event.severity` of its alerts.
SEVERITY = {"informational": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
