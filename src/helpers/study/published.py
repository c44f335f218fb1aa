"""The numbers each paper publishes, transcribed in ``data/studies/<id>/published.yaml``.

Each entry is keyed like a row of the analysis-results table (``cohort, section, analysis, variable, level,
group, stat``) plus ``value`` (as printed; ``relation: "<"`` for values printed as "< x"), ``printed`` (the
exact text) and ``source`` (table/row/column or section of the paper).  See ``book/results_table.md``.
"""
from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import yaml

from helpers.study.results import KEY_COLUMNS
from helpers.study.spec import StudySpec

#: libyaml's parser when PyYAML was built with it: the same safe constructor and resolver as yaml.safe_load, so
#: the same values, parsed about ten times faster (published.yaml is read by every chapter of a study).
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


#: Parsed documents by their text: a chapter reads its study's published.yaml three times (values, key claims,
#: notes), and the warm-kernel zygote parses every study's before it forks (:func:`preparse_studies`).
_PARSED: dict[str, object] = {}


def safe_load_yaml(text: str):
    """``yaml.safe_load(text)``, with libyaml's parser where available. A text parsed before in this process is
    not parsed again: the caller gets a deep copy of the earlier result (the same values; changing it changes
    nothing else)."""
    if text not in _PARSED:
        _PARSED[text] = yaml.load(text, Loader=_SAFE_LOADER)
    return copy.deepcopy(_PARSED[text])


def preparse_studies(studies_dir: Path) -> None:
    """Parse every ``published.yaml`` under ``studies_dir`` into the cache (the zygote does, before forking).
    The cache is keyed by the text, so a file edited afterwards is parsed afresh."""
    for path in sorted(Path(studies_dir).glob("*/published.yaml")):
        try:
            safe_load_yaml(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            pass  # the chapter that reads it reports the problem

PUBLISHED_COLUMNS = [*KEY_COLUMNS, "value", "relation", "printed", "source", "note"]


#: ``status`` of a row of a synthetic study's ``reconstruction_report.csv`` (written by
#: :mod:`helpers.synth.reconstruct`, read by the chapters' summaries and the audit): printed as published, missed,
#: or missed and proven unavoidable by the test in its ``proof`` column, alone (``out_of_reach``) or as one of a set
#: of published numbers no one table can print all of (``conflict``).
RECONSTRUCTION_STATUSES = ("hit", "missed", "out_of_reach", "conflict")
#: the statuses of a miss proven unavoidable: the reachable targets are all the others
PROVEN_STATUSES = ("out_of_reach", "conflict")


def load_published(spec_or_path: StudySpec | Path | str) -> pd.DataFrame:
    """Published values of a study as a DataFrame with the columns of :data:`PUBLISHED_COLUMNS`."""
    path = spec_or_path.published_file if isinstance(spec_or_path, StudySpec) else Path(spec_or_path)
    raw = safe_load_yaml(path.read_text(encoding="utf-8"))
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


def conflicting_values(published: pd.DataFrame, section: str | None = None) -> pd.DataFrame:
    """Numbers the paper prints more than once with different values (same key, no ``relation``).

    Found mechanically from ``published.yaml``: e.g. a median follow-up printed as 30.1 in the Results and
    27.6 in the Discussion.  Returns one row per key: the key, the distinct values and where each is printed.
    """
    pub = published if section is None else published[published["section"] == section]
    pub = pub[pub["relation"].isna() | (pub["relation"] == "")]
    rows = []
    for key, group in pub.groupby([c for c in KEY_COLUMNS if c != "study"], sort=False):
        if group["value"].nunique() > 1:
            rows.append({**dict(zip([c for c in KEY_COLUMNS if c != "study"], key)),
                         "values": " vs ".join(f"{v:g}" for v in group["value"].drop_duplicates()),
                         "where": "; ".join(f"{v:g} ({s})" for v, s in zip(group["value"], group["source"]))})
    return pd.DataFrame(rows, columns=[c for c in KEY_COLUMNS if c != "study"] + ["values", "where"])


def noted_inconsistencies(spec_or_path: StudySpec | Path | str, section: str | None = None) -> list[dict]:
    """The ``inconsistencies:`` list of ``published.yaml``: disagreements a key comparison cannot find.

    Each entry has ``section``, ``description`` and ``sources``; e.g. two p-values for one comparison that
    come from different tests, or a percentage that does not equal its own fraction.
    """
    path = spec_or_path.published_file if isinstance(spec_or_path, StudySpec) else Path(spec_or_path)
    raw = safe_load_yaml(path.read_text(encoding="utf-8")) or {}
    items = raw.get("inconsistencies") or []
    return [i for i in items if section is None or i.get("section") == section]
