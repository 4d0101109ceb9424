"""Watchfloor: passive, converged IT/OT security monitoring."""

from .native import guard

__version__ = "0.1.0"
guard()  # before anything imports a compiled module that no longer matches its source
