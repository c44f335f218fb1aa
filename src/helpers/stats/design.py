"""One dummy coder for categorical variables: R's treatment contrasts (``model.matrix``, ``contr.treatment``).

:func:`treatment_dummies` turns one column of category values into one 0/1 column per non-reference level; the
Cox models (:func:`design_matrix`, the chapters' ``cox_terms``), the propensity model of the matching and the
balance tables all use it, so that a variable is coded the same way everywhere.

Conventions (R's): the reference level is the first of ``levels`` unless given; a missing value gives NaN in
every dummy of its variable (the model then drops the row, ``na.omit``); values are compared as text, so
``1`` and ``"1"`` are the same level; a value that is not one of ``levels`` is an error.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["treatment_dummies", "DesignMatrix", "design_matrix"]


def _level_str(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def treatment_dummies(values: pd.Series, levels: Sequence, reference: Any = None,
                      name: str = "") -> tuple[np.ndarray, list[str]]:
    """0/1 columns of ``values`` for every level of ``levels`` but the reference (R treatment contrasts).

    Returns the ``n x (k - 1)`` float array (NaN rows where the value is missing) and the levels it codes, in
    order. ``values`` may be a Categorical (compared by its codes: no per-cell text comparison, which matters at
    registry size) or any other Series (compared as text).
    """
    levels = [_level_str(v) for v in levels]
    if len(set(levels)) != len(levels):
        raise ValueError(f"{name or 'variable'}: duplicated levels {levels}")
    ref = levels[0] if reference is None else _level_str(reference)
    if ref not in levels:
        raise ValueError(f"{name or 'variable'}: reference level {ref!r} is not one of {levels}")
    series = pd.Series(values)
    missing = series.isna().to_numpy()
    if isinstance(series.dtype, pd.CategoricalDtype):
        text = [_level_str(c) for c in series.cat.categories]
        lookup = np.array([levels.index(t) if t in levels else -2 for t in text] + [-1], dtype=np.int64)
        position = lookup[series.cat.codes.to_numpy()]  # code -1 (missing) takes the last entry, -1
    else:
        as_text = series.astype(object).where(~series.isna(), None).map(
            lambda v: None if v is None else _level_str(v))
        position = pd.Categorical(as_text, categories=levels).codes.astype(np.int64)
        position[(position < 0) & ~missing] = -2
    if np.any(position == -2):
        bad = sorted({_level_str(v) for v, p in zip(series, position) if p == -2})
        raise ValueError(f"{name or 'variable'}: values {bad} are not among its levels {levels}")
    coded = [lv for lv in levels if lv != ref]
    out = np.empty((len(series), len(coded)), dtype=float)
    for j, level in enumerate(coded):
        out[:, j] = position == levels.index(level)
    out[missing] = np.nan
    return out, coded


@dataclass
class DesignMatrix:
    """Numeric model columns built from a data frame, with the bookkeeping R keeps in ``assign``.

    ``frame``: one column per term, same index as the data (NaN where the source value is missing).
    ``terms``: term column -> (variable, level); ``level`` is None for a numeric variable.
    ``variables``: variable -> its term columns, in order (what
    :func:`helpers.stats.cox.univariate_then_multivariate` takes as ``candidates``). ``reference``: variable ->
    reference level (None for numeric ones).
    """

    frame: pd.DataFrame
    terms: dict[str, tuple[str, str | None]]
    variables: dict[str, list[str]]
    reference: dict[str, str | None]

    def with_columns(self, data: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
        """``frame`` with ``columns`` of ``data`` (e.g. time and event) added in front."""
        return pd.concat([data[list(columns)], self.frame], axis=1)


def _spec_parts(spec: Any) -> tuple[str, list | None, Any]:
    if spec is None or isinstance(spec, str):
        return spec or "numeric", None, None
    if isinstance(spec, Mapping):
        return str(spec.get("kind", "categorical")), spec.get("levels"), spec.get("reference")
    if isinstance(spec, (tuple, list)):
        parts = list(spec) + [None] * (3 - len(spec))
        return str(parts[0]), parts[1], parts[2]
    raise TypeError(f"unrecognised column specification {spec!r}")


def _sort_key(v: Any):
    return (0, float(v), "") if isinstance(v, (int, float, np.integer, np.floating)) else (1, 0.0, str(v))


def design_matrix(data: pd.DataFrame, columns: Mapping[str, Any], keep: Sequence[str] = (),
                  sep: str = "") -> DesignMatrix:
    """Dummy-code categorical columns against a reference level (R's treatment contrasts).

    ``columns`` maps a column of ``data`` to its specification:

    * ``"numeric"`` (or ``None``): used as is (converted to float);
    * ``("categorical", levels, reference)``, or ``{"kind": "categorical", "levels": [...],
      "reference": ...}``: one 0/1 column per non-reference level (:func:`treatment_dummies`), named
      ``<column><sep><level>`` (``sep=""`` gives R's names, e.g. ``ecog31``). ``levels=None`` uses the sorted
      distinct non-missing values (R's ``factor()`` default); ``reference=None`` uses the first level.

    ``keep``: columns of ``data`` copied unchanged in front (e.g. time and event).

    Examples
    --------
    >>> d = pd.DataFrame({"sex": ["m", "f", "m"], "age": [50, 60, 70]})
    >>> design_matrix(d, {"sex": ("categorical", ["m", "f"], None), "age": "numeric"}).frame.columns.tolist()
    ['sexf', 'age']
    """
    frame = pd.DataFrame(index=data.index)
    for k in keep:
        frame[k] = data[k]
    terms: dict[str, tuple[str, str | None]] = {}
    variables: dict[str, list[str]] = {}
    reference: dict[str, str | None] = {}
    for name, spec in columns.items():
        if name not in data.columns:
            raise KeyError(f"design_matrix: column '{name}' is not in the data")
        kind, levels, ref = _spec_parts(spec)
        if kind in ("numeric", "continuous"):
            frame[name] = pd.to_numeric(data[name], errors="raise").astype(float)
            terms[name] = (name, None)
            variables[name] = [name]
            reference[name] = None
            continue
        if kind not in ("categorical", "factor"):
            raise ValueError(f"design_matrix: kind of '{name}' must be 'numeric' or 'categorical', got {kind!r}")
        if levels is None:
            present = sorted(set(v for v in data[name] if not pd.isna(v)), key=_sort_key)
            levels = [_level_str(v) for v in present]
        try:
            dummies, coded = treatment_dummies(data[name], levels, ref, name=name)
        except ValueError as exc:
            raise ValueError(f"design_matrix: {exc}") from None
        reference[name] = _level_str(ref) if ref is not None else _level_str(levels[0])
        variables[name] = []
        for j, level in enumerate(coded):
            col = f"{name}{sep}{level}"
            if col in frame.columns:
                raise ValueError(f"design_matrix: column name clash on '{col}'")
            frame[col] = dummies[:, j]
            terms[col] = (name, level)
            variables[name].append(col)
    return DesignMatrix(frame, terms, variables, reference)
