"""Synthetic data: the reconstruction of each seed study's patient table from the paper's published
aggregates (``make data``), and registry-sized cohorts for the benchmarks."""
