"""Reproducible snapshots (SPEC 12): `strata freeze` writes `strata.lock`, `strata verify`
re-executes every cell in a scratch store and compares its outputs with the lock."""

from strata_engine.snapshots.freeze import LOCK_FILE, FreezeRefused, freeze, read_lock
from strata_engine.snapshots.verify import VerifyReport, verify

__all__ = ["LOCK_FILE", "FreezeRefused", "VerifyReport", "freeze", "read_lock", "verify"]
