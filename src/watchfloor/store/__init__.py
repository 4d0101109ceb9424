"""Storage: the only package that imports a database driver."""

from .base import EventFilter, Source, Store, StoreError, Talker, open_store

__all__ = ["EventFilter", "Source", "Store", "StoreError", "Talker", "open_store"]
