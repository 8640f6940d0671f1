"""Simulation engines: the contract (`base`), which engines exist (`registry`), the SimPy
reference engine (`reference`) and the fast engine (`compiled`, driving the numba event loop in
`kernel`). An engine emits facts into a sink; it never imports metrics, analysis or
presentation."""
