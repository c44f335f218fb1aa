"""The numbers each paper publishes, transcribed in ``data/studies/<id>/published.yaml``.

Each entry is keyed like a row of the analysis-results table (``cohort, section, analysis, variable, level,
group, stat``) plus ``value`` (as printed; ``relation: "<"`` for values printed as "< x"), ``printed`` (the
exact text) and ``source`` (table/row/column or section of the paper).  See ``book/results_table.md``.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from .results import KEY_COLUMNS
from .spec import StudySpec

PUBLISHED_COLUMNS = [*KEY_COLUMNS, "value", "relation", "printed", "source", "note"]


def load_published(spec_or_path: StudySpec | Path | str) -> pd.DataFrame:
    """Published values of a study as a DataFrame with the columns of :data:`PUBLISHED_COLUMNS`."""
    path = spec_or_path.published_file if isinstance(spec_or_path, StudySpec) else Path(spec_or_path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    rows = raw.get("values") or []
    df = pd.DataFrame(rows)
    for col in PUBLISHED_COLUMNS:
        if col not in df.columns:
            df[col] = None
    df["study"] = raw.get("study")
    for col in ["cohort", "section", "analysis", "variable", "level", "group", "stat"]:
        df[col] = df[col].fillna("").astype(str)
    df["value"] = pd.to_numeric(df["value"], errors="coerce")
    return df[PUBLISHED_COLUMNS]


def published_value(published: pd.DataFrame, **key: str) -> float:
    """The single published value matching ``key`` (first occurrence when a number is printed twice)."""
    mask = pd.Series(True, index=published.index)
    for col, val in key.items():
        mask &= published[col] == str(val)
    hits = published[mask]
    if hits.empty:
        raise KeyError(f"no published value for {key}")
    return float(hits["value"].iloc[0])
