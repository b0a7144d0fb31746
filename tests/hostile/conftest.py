"""The hostile-input tier: what an attacker or a broken producer sends, refused or
dead-lettered, never a crash. Scenarios that need real processes use the fault rig."""

from tests.faults.conftest import rig

__all__ = ["rig"]
