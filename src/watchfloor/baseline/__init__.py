"""Behavioural baseline: learn what normal OT traffic looks like from stored events (model.py),
then raise explained deviation alerts on new traffic (monitor.py). Versions live in the store."""

from .model import Baseline, Learner, Row, Settings, learn

__all__ = ["Baseline", "Learner", "Row", "Settings", "learn"]
