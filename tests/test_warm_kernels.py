"""Warm kernels (helpers.build.warm): no state leaks from one notebook to the next, and a chapter executed on a
warm kernel is the same file as on a freshly started kernel (apart from papermill's timestamps)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from helpers.build.execute import _execute_notebook, notebook_from_source
from helpers.build.toc import ChapterRun
from helpers.build.warm import Zygote, warm_kernels_enabled

pytestmark = pytest.mark.skipif(not warm_kernels_enabled(), reason="warm kernels need fork (POSIX)")

PROBE = """\
import json, os, sys
import matplotlib
state = {
    "preloaded": "helpers.report.figures" in sys.modules,  # imported by the zygote, not by this notebook
    "global": "LEAKED" in globals(),
    "module": hasattr(sys.modules.get("helpers.report.figures"), "LEAKED"),
    "environ": "HCC_LEAKED" in os.environ,
    "rcparam": matplotlib.rcParams["lines.linewidth"],
    "pid": os.getpid(),
}
print(json.dumps(state))
"""

LEAK = """\
LEAKED = 1
import os, matplotlib, helpers.report.figures
helpers.report.figures.LEAKED = 1
os.environ["HCC_LEAKED"] = "1"
matplotlib.rcParams["lines.linewidth"] = 9.0
"""


def _notebook(path: Path, *sources: str) -> str:
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return str(path)


def _probe_output(path: str) -> dict:
    nb = nbformat.read(path, as_version=4)
    return json.loads(nb.cells[0].outputs[0]["text"].strip().splitlines()[-1])


def test_state_set_by_one_notebook_does_not_reach_the_next(tmp_path):
    leak = _notebook(tmp_path / "leak.ipynb", PROBE, LEAK)
    probe = _notebook(tmp_path / "probe.ipynb", PROBE)
    with Zygote() as zygote:
        _execute_notebook(leak, str(tmp_path / "leak.out.ipynb"), {}, zygote.socket)
        _execute_notebook(probe, str(tmp_path / "probe.out.ipynb"), {}, zygote.socket)
        zygote_pid = zygote.proc.pid
    first, second = _probe_output(str(tmp_path / "leak.out.ipynb")), _probe_output(str(tmp_path / "probe.out.ipynb"))
    assert first["preloaded"] and second["preloaded"]  # the kernels were warm
    assert (second["global"], second["module"], second["environ"]) == (False, False, False)
    assert second["rcparam"] == first["rcparam"] != 9.0  # matplotlib's default, not the first notebook's
    assert len({first["pid"], second["pid"], zygote_pid, os.getpid()}) == 4  # a process of its own each


def _without_timestamps(path: Path) -> dict:
    """The executed notebook without what differs between any two executions: papermill's timestamps and
    durations, and the kernel's per-cell execution times."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for key in ("start_time", "end_time", "duration"):
        nb["metadata"]["papermill"].pop(key)
    for cell in nb["cells"]:
        for key in ("start_time", "end_time", "duration"):
            cell["metadata"].get("papermill", {}).pop(key, None)
        cell["metadata"].pop("execution", None)
    return nb


def test_warm_kernel_output_is_that_of_a_fresh_kernel(tmp_path):
    run = ChapterRun("veteran", "cohorts")
    source = tmp_path / "cohorts.ipynb"
    nbformat.write(notebook_from_source(run.source), source)
    # the same paths for both executions (papermill records them in the notebook); moved aside after each
    results, out = tmp_path / "results", tmp_path / "cohorts.out.ipynb"
    params = {"study_id": run.study_id, "results_dir": str(results)}
    for kind in ("fresh", "warm"):
        (results / run.study_id).mkdir(parents=True)
        if kind == "warm":
            with Zygote() as zygote:
                _execute_notebook(str(source), str(out), params, zygote.socket)
        else:
            _execute_notebook(str(source), str(out), params, None)
        (tmp_path / kind).mkdir()
        out.rename(tmp_path / kind / out.name)
        results.rename(tmp_path / kind / "results")
    fresh = _without_timestamps(tmp_path / "fresh" / out.name)
    warm = _without_timestamps(tmp_path / "warm" / out.name)
    assert len(fresh["cells"]) == len(warm["cells"]) > 5
    assert any(cell.get("outputs") for cell in fresh["cells"])
    for i, (a, b) in enumerate(zip(fresh["cells"], warm["cells"])):
        assert a == b, f"cell {i} differs"
    assert fresh == warm
    written = sorted((tmp_path / "fresh" / "results" / run.study_id).glob("*"))
    assert written  # and the results tables the chapter wrote are the same files
    for f in written:
        assert f.read_bytes() == (tmp_path / "warm" / "results" / run.study_id / f.name).read_bytes(), f.name


def test_parsed_yaml_is_shared_by_text_and_handed_out_as_copies(tmp_path):
    """published.yaml is parsed once per process (and once in the zygote): a caller's changes do not reach the
    next caller, and an edited file is parsed afresh."""
    import yaml

    from helpers.study.published import load_published, preparse_studies, safe_load_yaml

    text = "study: s1\nvalues:\n  - {cohort: primary, analysis: km, stat: median, value: 12.5}\n"
    first = safe_load_yaml(text)
    first["values"][0]["value"] = 99.0
    first["extra"] = True
    second = safe_load_yaml(text)
    assert second == yaml.safe_load(text) and second["values"][0]["value"] == 12.5 and "extra" not in second
    study = tmp_path / "s1"
    study.mkdir()
    published = study / "published.yaml"
    published.write_text(text, encoding="utf-8")
    preparse_studies(tmp_path)
    assert load_published(published)["value"].tolist() == [12.5]
    published.write_text(text.replace("12.5", "13.0"), encoding="utf-8")
    assert load_published(published)["value"].tolist() == [13.0]


def test_warm_kernels_do_not_wait_on_fixed_timers():
    """The warm manager's client drains IOPub after kernel_info with a short quiet period, and the manager polls
    a kernel that is shutting down often (jupyter_client: 0.2 s and 0.1 s, idle in every notebook)."""
    from helpers.build import warm

    manager = warm.kernel_manager_class("/nonexistent.sock")(kernel_name="python3")
    client = manager.client()
    assert type(client).__name__ == "WarmKernelClient"
    assert type(client).wait_for_ready is not type(client).__mro__[1].wait_for_ready
    assert warm.IOPUB_QUIET_SECONDS < 0.2 and warm.SHUTDOWN_POLL_SECONDS < 0.1
    assert warm.kernel_manager_class(None)().client().__class__.__name__ == "BlockingKernelClient"



def test_warm_kernels_do_not_print_the_tcp_encryption_warning_but_keep_the_rest(tmp_path, capfd):
    """ipykernel 7 warns once per kernel that it talks over TCP without encryption, which filled the build's log
    (one per notebook; the build's kernels listen on the loopback interface only, with signed messages). A
    fresh kernel still prints it (the control); a warm kernel does not; other warnings pass the filter."""
    import logging

    from helpers.build.warm import _LoopbackTransportWarning

    path = _notebook(tmp_path / "quiet.ipynb", "1 + 1")
    _execute_notebook(path, str(tmp_path / "fresh.out.ipynb"), {})
    assert "without encryption" in capfd.readouterr().err
    with Zygote() as zygote:
        _execute_notebook(path, str(tmp_path / "warm.out.ipynb"), {}, zygote.socket)
    assert "without encryption" not in capfd.readouterr().err
    keep = _LoopbackTransportWarning()
    record = logging.LogRecord("IPKernelApp", logging.WARNING, __file__, 1, "some other warning", None, None)
    assert keep.filter(record)
    record.msg = "Kernel is running over TCP without encryption. All communication ..."
    assert not keep.filter(record)


def test_a_kernel_that_dies_before_it_answers_is_started_again(tmp_path, monkeypatch):
    """CI once lost a whole build to a kernel that could not bind its port ("Address already in use": another
    process took it between the manager's choice and the bind). No cell has run then, so the notebook is started
    again; the second start here is the real one, and its output is the notebook's."""
    import papermill

    from helpers.build import execute

    real = papermill.execute_notebook
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("Kernel died before replying to kernel_info")
        return real(*args, **kwargs)

    monkeypatch.setattr(papermill, "execute_notebook", flaky)
    path = _notebook(tmp_path / "retry.ipynb", "print(6 * 7)")
    out = tmp_path / "retry.out.ipynb"
    execute._execute_notebook(path, str(out), {})
    assert len(calls) == 2
    assert "42" in json.dumps(nbformat.read(out, as_version=4).cells[-1].outputs)


def test_a_failing_cell_or_another_error_is_not_retried(tmp_path, monkeypatch):
    import papermill

    from helpers.build import execute
    from helpers.build.toc import BuildError

    path = _notebook(tmp_path / "fails.ipynb", "1 / 0")
    real = papermill.execute_notebook
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(papermill, "execute_notebook", counted)
    with pytest.raises(BuildError, match="ZeroDivisionError"):
        execute._execute_notebook(path, str(tmp_path / "fails.out.ipynb"), {})
    assert len(calls) == 1
    assert not execute.kernel_failed_to_start(ValueError("bad parameter"))
    assert execute.kernel_failed_to_start(RuntimeError("zmq.error.ZMQError: Address already in use"))
