"""Retention, rollups and pruning: what lets a store run for years (see README)."""

from obsstore.lifecycle.policy import (
    PruneReport,
    RetentionPolicy,
    RollupLevel,
    policy_from_environment,
)

__all__ = ["PruneReport", "RetentionPolicy", "RollupLevel", "policy_from_environment"]
