"""Retention, rollups and pruning: what lets a store run for years (see README)."""

from obsstore.lifecycle.job import RetentionJob
from obsstore.lifecycle.policy import (
    PruneReport,
    RetentionPolicy,
    RollupLevel,
    policy_from_environment,
)

__all__ = [
    "PruneReport",
    "RetentionJob",
    "RetentionPolicy",
    "RollupLevel",
    "policy_from_environment",
]
