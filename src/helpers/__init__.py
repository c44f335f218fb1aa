"""Helpers behind the HCC cohort book: study specs, patient tables, baseline tables, matching and results.

Each module holds one kind of analysis; the notebooks in ``notebooks/`` only call into them.
"""
__all__ = ["spec", "patients", "table1", "matching", "hypothesis_tests", "balance", "results", "figures"]
