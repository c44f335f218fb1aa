"""Shared fixtures: a tiny hand-made study written to a temporary folder; ``make data`` on a copy of a seed
study whose reconstruction.yaml a test edits."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

SPEC = textwrap.dedent("""\
    study_id: tiny
    title: Tiny study
    synthetic: false
    design: {type: observational, timing: retrospective}
    data: {patients: patients.csv, id_column: pid}
    arm: {column: arm, reference: ctl, levels: {ctl: Control, trt: Treated}}
    variables:
      sex: {label: Sex, type: categorical, levels: {m: male, f: female}}
      age: {label: Age, unit: years, type: continuous, range: [18, 100],
            cut: {breaks: [60], levels: ["<60", ">=60"], right: false}, summarise_as: continuous}
      alt: {label: ALT, unit: U/L, type: continuous, range: [0, null], cut: {breaks: [40], levels: ["<=40", ">40"]}}
    table1:
      variables: [sex, age, alt]
      categorical_test: chisq_yates
      continuous_test: mann_whitney
    """)

ROWS = textwrap.dedent("""\
    pid,arm,sex,age,alt
    p1,ctl,m,50,30
    p2,ctl,f,61,40
    p3,ctl,m,70,41
    p4,trt,m,45,20
    p5,trt,f,59,55
    p6,trt,f,60,40.5
    """)


@pytest.fixture
def tiny_study(tmp_path: Path) -> Path:
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "study.yaml").write_text(SPEC, encoding="utf-8")
    (folder / "patients.csv").write_text(ROWS, encoding="utf-8")
    return folder


@pytest.fixture(autouse=True)
def _page_settings_reset():
    """A chapter opened by a test sets its page's hazard-ratio decimals and synthetic-data figure mark for the
    process (a notebook's kernel); every test starts and ends with the defaults."""
    from helpers.report import display, format as fmt

    fmt.set_hr_decimals(2)
    display.set_figure_mark("")
    yield
    fmt.set_hr_decimals(2)
    display.set_figure_mark("")


@pytest.fixture
def make_data_with_edited_assumptions(tmp_path: Path, monkeypatch, capsys):
    """``edit(old, new)``: copy seed 004's folder, replace ``old`` by ``new`` in its reconstruction.yaml, run
    ``make data``'s entry point on the copy into a fresh output folder, and return (exit code, stderr, whether
    the output folder was created, whether the copy is byte for byte as before)."""
    import dataclasses
    import shutil

    from helpers.study.spec import load_spec
    from helpers.synth import reconstruct

    def edit(old: str, new: str):
        spec = load_spec("haic_after_ab")
        folder = tmp_path / spec.folder.name
        shutil.copytree(spec.folder, folder)
        path = folder / "reconstruction.yaml"
        text = path.read_text(encoding="utf-8")
        assert old in text, old
        path.write_text(text.replace(old, new), encoding="utf-8")
        before = {p.name: p.read_bytes() for p in folder.iterdir()}
        real = reconstruct.load_spec

        def moved(study_id, *a, **k):
            s = real(study_id, *a, **k)
            return dataclasses.replace(s, folder=folder) if study_id == "haic_after_ab" else s

        monkeypatch.setattr(reconstruct, "load_spec", moved)
        out = tmp_path / "out"
        rc = reconstruct.main(["haic_after_ab", "--out-dir", str(out)])
        unchanged = {p.name: p.read_bytes() for p in folder.iterdir()} == before
        return rc, capsys.readouterr().err, out.exists(), unchanged

    return edit
