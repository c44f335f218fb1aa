"""The analysis-results table: every number a chapter shows, one row per number, unrounded.

Columns: ``study, cohort, section, analysis, variable, level, group, stat, value``.  The vocabulary is
documented in ``book/results_table.md``; later chapters, tests and the reproduction audit read these files.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable

import pandas as pd

KEY_COLUMNS = ["study", "cohort", "section", "analysis", "variable", "level", "group", "stat"]
COLUMNS = [*KEY_COLUMNS, "value"]


class ResultsTable:
    """Collects result rows for one study and one chapter, and writes them as a tidy CSV.

    >>> r = ResultsTable("demo", section="cohorts")
    >>> r.add(cohort="primary", analysis="table1", variable="sex", level="male", group="A", stat="n", value=3)
    >>> r.frame().shape
    (1, 9)
    """

    def __init__(self, study: str, section: str):
        self.study = study
        self.section = section
        self._rows: list[dict] = []

    def add(self, *, cohort: str, analysis: str, stat: str, value: float | int | None,
            variable: str = "", level: str = "", group: str = "") -> None:
        if value is not None and not isinstance(value, (int, float)):
            value = float(value)  # numpy scalars
        self._rows.append(dict(study=self.study, cohort=cohort, section=self.section, analysis=analysis,
                               variable=variable, level=level, group=group, stat=stat,
                               value=math.nan if value is None else float(value)))

    def extend(self, frame: pd.DataFrame, **defaults: str) -> None:
        """Add rows from a frame holding some key columns plus ``value``; ``defaults`` fill the others."""
        for rec in frame.to_dict("records"):
            merged = {**defaults, **{k: rec[k] for k in rec if k in COLUMNS}}
            merged.pop("study", None)
            merged.pop("section", None)
            self.add(**merged)

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self._rows, columns=COLUMNS)
        dup = df.duplicated(KEY_COLUMNS, keep=False)
        if dup.any():
            raise ValueError(f"duplicate result keys:\n{df[dup].to_string()}")
        return df

    def write(self, results_dir: Path | str, name: str | None = None) -> Path:
        """Write ``<results_dir>/<study>/<name or section>.csv`` (values unrounded) and return its path.

        ``name`` separates several runs of one section (e.g. ``survival_matched``) so none overwrites another.
        """
        out = Path(results_dir) / self.study / f"{name or self.section}.csv"
        out.parent.mkdir(parents=True, exist_ok=True)
        self.frame().to_csv(out, index=False, float_format="%.17g")
        return out


def read_results(results_dir: Path | str, studies: Iterable[str] | None = None) -> pd.DataFrame:
    """All result CSVs under ``results_dir`` (optionally only some studies) as one frame."""
    files = sorted(Path(results_dir).glob("*/*.csv"))
    if studies is not None:
        keep = set(studies)
        files = [f for f in files if f.parent.name in keep]
    frames = [pd.read_csv(f, dtype={c: str for c in KEY_COLUMNS}, keep_default_na=False,
                          na_values={"value": ["", "nan", "NaN"]}) for f in files]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)


def first_row_values(rows: pd.DataFrame) -> dict[tuple, float]:
    """``value`` of the first row per ``(variable, level, group, stat)``: one pass over ``rows`` instead of
    filtering the whole table for every cell of a display table."""
    keys = zip(rows["variable"], rows["level"], rows["group"], rows["stat"])
    first: dict[tuple, float] = {}
    for key, value in zip(keys, rows["value"]):
        first.setdefault(key, float(value))
    return first
