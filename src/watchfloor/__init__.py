"""Watchfloor: passive, converged IT/OT security monitoring."""

__version__ = "0.1.0"
