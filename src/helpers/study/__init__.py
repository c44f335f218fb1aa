"""A study: its specification (``study.yaml``), its patient table, the paper's published numbers and the
analysis-results table that every chapter writes."""
