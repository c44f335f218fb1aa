"""Display helpers: CSV downloads of tables, numbered figures with alt text, deterministic PNGs."""
from __future__ import annotations

import base64
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from helpers.report import display as report  # noqa: E402


def captured(monkeypatch):
    shown = []
    monkeypatch.setattr(report, "display", shown.append)
    return shown


def test_table_download_link_holds_every_row_as_csv(monkeypatch):
    shown = captured(monkeypatch)
    df = pd.DataFrame({"Arm": ["A", "B", "C"], "n": [1, 2, 3]})
    report.show_table(df, caption="Table 3. Best response", max_rows=2, index=False)
    page = shown[0].data
    assert "id='table-table-3-best-response'" in page
    data = re.search(r"base64,([A-Za-z0-9+/=]+)'", page).group(1)
    assert base64.b64decode(data).decode("utf-8") == "Arm,n\nA,1\nB,2\nC,3\n"  # all rows, not only the 2 shown
    assert "download='table-3-best-response.csv'" in page


def test_table_csv_removes_html_from_link_cells():
    df = pd.DataFrame({"Computed in": ["<a href='survival.html'>Survival &amp; Cox</a>"]})
    assert report.table_csv(df, index=False, html_cells=True) == "Computed in\nSurvival & Cox\n"


def figure():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [1, 0.5, 0.2])
    ax.set_xlabel("Months")
    return fig


def test_figures_are_numbered_with_alt_text_and_identical_bytes(monkeypatch):
    shown = captured(monkeypatch)
    monkeypatch.setattr(report, "_FIGURES_SHOWN", [0])
    assert report.show_figure(figure(), "First <curve>", alt="A falling 'line'") == 1
    assert report.show_figure(figure(), "Second", alt="Another line", anchor="fig-km") == 2
    first, second = (x.data for x in shown)
    assert first.startswith("<figure class='book-figure' id='figure-1'><img src='data:image/png;base64,")
    assert "alt='A falling &#x27;line&#x27;'" in first
    assert first.endswith("<figcaption><strong>Figure 1.</strong> First &lt;curve&gt;</figcaption></figure>")
    assert "id='fig-km'" in second and "Figure 2." in second
    png = [base64.b64decode(re.search(r"base64,([^']+)'", x).group(1)) for x in (first, second)]
    assert png[0] == png[1] and png[0].startswith(b"\x89PNG")  # same figure, same bytes
    assert b"Software" not in png[0]  # no matplotlib version in the file
    assert plt.get_fignums() == []  # closed, so the inline backend does not show them again
