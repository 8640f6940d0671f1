"""Metrics: the catalogue of every metric as data (`catalogue`) and the accumulator both engines
feed (`accumulator`)."""
