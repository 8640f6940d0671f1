"""Randomness by name: per-replication streams keyed by (seed, replication, name) (`streams`)
and the distributions durations are drawn from, with their moments (`distributions`)."""
