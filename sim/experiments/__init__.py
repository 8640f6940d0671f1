"""Experiments on scenarios, through the runner: comparisons (`compare`), replication counts
(`replications`), warm-up (`warmup`), capacity search (`search`) and resumable sweeps (`sweep`)."""
