"""The site's downloads of aggregates: each study's analysis-results table, unrounded, beside the pages.

The build refuses to publish data files in the pages (:func:`helpers.build.render.refuse_data_files`), but
for the tables' own CSV downloads (``_tables/<hash of the content>.csv``); this module then adds, on purpose and nothing else, ``downloads/<study_id>_results.csv``: the concatenation of the
study's ``_build/results/<study_id>/*.csv`` (every number a chapter shows, one row per number, in the columns
of :data:`RESULTS_COLUMNS`, described on the analysis-results page). A file with other columns is refused,
so a patient-level table can never be published this way; the canary test
(``tests/test_no_patient_data_in_site.py``) searches these files too.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from helpers.build.toc import BuildError

#: The columns of the analysis-results table (``helpers.study.results``); the only table the site publishes.
RESULTS_COLUMNS = ("study", "cohort", "section", "analysis", "variable", "level", "group", "stat", "value")
#: The site's folder of downloads.
DOWNLOADS = "downloads"


def study_results_csv(folder: Path) -> str:
    """One study's results files (``folder/*.csv``, in name order) as one CSV text with one header; raise
    :class:`BuildError` for a file whose header is not :data:`RESULTS_COLUMNS`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RESULTS_COLUMNS)
    for path in sorted(Path(folder).glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            rows = csv.reader(handle)
            header = tuple(next(rows, ()))
            if header != RESULTS_COLUMNS:
                raise BuildError(f"refusing to publish {path}: its columns {list(header)} are not those of the "
                                 f"analysis-results table ({', '.join(RESULTS_COLUMNS)})")
            writer.writerows(rows)
    return out.getvalue()


def publish_results(site: Path, results_dir: Path) -> list[Path]:
    """Write ``site/downloads/<study_id>_results.csv`` for every study folder of ``results_dir``; return them."""
    written = []
    target = Path(site) / DOWNLOADS
    for folder in sorted(p for p in Path(results_dir).iterdir() if p.is_dir()) if Path(results_dir).exists() else []:
        if not any(folder.glob("*.csv")):
            continue
        target.mkdir(parents=True, exist_ok=True)
        path = target / f"{folder.name}_results.csv"
        path.write_text(study_results_csv(folder), encoding="utf-8")
        written.append(path)
    return written
