"""Display helpers: CSV downloads of tables, numbered figures with alt text, deterministic PNGs."""
from __future__ import annotations

import base64
import hashlib
import re
from unittest import mock

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

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
    assert first.startswith("<figure class='book-figure' id='figure-1'><a class='figure-enlarge' "
                            "href='data:image/png;base64,")
    assert "<img src='data:image/png;base64," in first
    assert "alt='A falling &#x27;line&#x27;'" in first
    assert "<figcaption><strong>Figure 1.</strong> First &lt;curve&gt;<span class='figure-download'>" in first
    assert first.endswith("</span></figcaption></figure>")
    assert "id='fig-km'" in second and "Figure 2." in second
    png = [base64.b64decode(re.search(r"<img src='data:image/png;base64,([^']+)'", x).group(1)) for x in (first, second)]
    assert png[0] == png[1] and png[0].startswith(b"\x89PNG")  # same figure, same bytes
    assert b"Software" not in png[0]  # no matplotlib version in the file
    assert plt.get_fignums() == []  # closed, so the inline backend does not show them again


def test_reconstruction_targets_are_named_in_words():
    """The missed targets of the reconstruction read as the paper's words, not as spec names."""
    from helpers.study.spec import load_spec

    spec = load_spec("haic_after_ab")
    assert report.target_label(spec, "table1", "child_pugh", "", "comparison", "p_value") == \
        "Child-Pugh class, p between the arms"
    assert report.target_label(spec, "table1", "sex", "male", "post_ab", "pct") == "Sex male, % (Post-ate-beva HAIC)"
    text = report.reconstruction_summary(spec, part="baseline")
    assert "- Child-Pugh class, p between the arms: published 0.285" in text
    assert "child_pugh" not in text and "p_value" not in text


def test_reconstruction_summary_says_one_number_in_the_singular():
    """Seed 000's safety miss is one p proven out of reach (Table 4's AST p, Fisher's where the policy picks
    Yates'): the summary reads "The one number it missed is", not "All 1 numbers it missed are"."""
    from helpers.study.spec import load_spec

    text = report.reconstruction_summary(load_spec("erhcc_hait_mp"), part="safety")
    assert "The one number it missed is proven out of reach" in text
    assert "All 1 numbers" not in text
    assert "so it hit 250 of the 250 that some table could print" in text


def test_reconstruction_summary_counts_the_targets_proven_out_of_reach():
    """Seed 004's Table 1 misses are the four p-values its tests prove unreachable (reconstruction.yaml's
    ``out_of_reach``): the summary says so per item and gives the reachable denominator, counted here from the
    committed report."""
    import pandas as pd

    from helpers.study.spec import load_spec

    spec = load_spec("haic_after_ab")
    rows = pd.read_csv(spec.folder / "reconstruction_report.csv")
    rows = rows[rows["analysis"].isin(["table1", "psm"])]
    hit, proven = int(rows["hit"].sum()), int((rows["status"] == "out_of_reach").sum())
    assert (len(rows), hit, proven) == (15, 11, 4)
    text = report.reconstruction_summary(spec, part="baseline")
    assert "All 4 numbers it missed are proven out of reach" in text
    assert "so it hit 11 of the 11 that some table could print" in text
    assert "- Child-Pugh class, p between the arms: published 0.285, reconstructed 0.2865 (proven out of reach)" \
        in text


def test_figures_download_as_pdf_svg_and_300_dpi_png_with_identical_bytes():
    """Every figure as vector PDF and SVG and as a 300 dpi PNG; the same figure gives the same bytes (no date,
    no software version, fixed SVG ids)."""
    import struct

    one, two = report.figure_files(figure()), report.figure_files(figure())
    plt.close("all")
    assert one == two
    assert one["pdf"].startswith(b"%PDF") and b"CreationDate" not in one["pdf"] and b"Matplotlib" not in one["pdf"]
    assert one["svg"].lstrip().startswith(b"<?xml") and b"<dc:date>" not in one["svg"]
    assert b"Months" in one["svg"]  # text kept as text (svg.fonttype none): searchable, editable
    width = [struct.unpack(">I", one[k][16:20])[0] for k in ("png", "png300")]
    assert width[1] == pytest.approx(2 * width[0], rel=0.01)  # 300 dpi against the page's 150 dpi


def test_page_png_is_the_300_dpi_drawing_at_half_size_in_matplotlibs_crop():
    """Both PNGs come from the one drawing that measures the tight box: the 300 dpi PNG is that drawing cropped,
    the same size as savefig(dpi=300, bbox_inches=box) and the same picture to within anti-aliasing; the page PNG
    is the same size as savefig(dpi=150, bbox_inches=box) and the same picture to within anti-aliasing (each of
    its pixels the mean of four)."""
    import io

    import numpy as np
    from PIL import Image

    fig, axes = plt.subplots(1, 2, figsize=(7, 3))
    for ax in axes:
        ax.step([0, 3, 7, 12], [1, 0.8, 0.55, 0.4], where="post")
        ax.set_xlabel("Months")
        ax.set_title("Overall survival", loc="left")
    fig.text(0.99, 1.02, "Synthetic data", ha="right")  # beyond the figure's top: the box grows
    page, full, box = report._pngs_and_tight_bbox(fig)
    assert box.y1 > 3  # the mark lies above the figure: the crop reaches beyond the drawn canvas
    # (dpi, mean difference of 255, share of pixels that differ by half the range): anti-aliased edges, and at
    # 150 dpi glyphs that matplotlib's own drawing hints onto whole pixels; not a shifted or missing element
    for png, dpi, mean, far in ((page, 150, 5, 0.02), (full, 300, 3, 0.01)):
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches=box, metadata={"Software": None})
        ours = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
        theirs = np.asarray(Image.open(buffer).convert("L"), dtype=float)
        assert ours.shape == theirs.shape
        assert np.abs(ours - theirs).mean() < mean
        assert (np.abs(ours - theirs) > 128).mean() < far
        assert b"Software" not in png and png.startswith(b"\x89PNG")
        assert Image.open(io.BytesIO(png)).info["dpi"] == pytest.approx((dpi, dpi), abs=0.05)  # stored per metre
        # the mark beyond the canvas is drawn (the one drawing never painted it: it is drawn again there)
        above = int(round((box.y1 - 3) * dpi))  # rows above the figure's top edge
        assert ours[:above].min() < 128 and theirs[:above].min() < 128
    plt.close(fig)


def test_content_left_of_the_figure_is_drawn_in_the_pngs():
    """Row labels that reach left of the figure (a long arm name under a Kaplan-Meier panel) are in both PNGs,
    as savefig(bbox_inches="tight") draws them, not cut off at the figure's edge."""
    import io

    import numpy as np
    from PIL import Image

    fig, ax = plt.subplots(figsize=(4, 3))
    fig.subplots_adjust(left=0.05)
    ax.set_yticks([0, 1])
    ax.set_yticklabels(["Standard chemotherapy", "Censored"])
    page, full, box = report._pngs_and_tight_bbox(fig)
    assert box.x0 < 0
    for png, dpi in ((page, 150), (full, 300)):
        ours = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches=box)
        theirs = np.asarray(Image.open(buffer).convert("L"), dtype=float)
        assert ours.shape == theirs.shape and np.abs(ours - theirs).mean() < 5
        left = int(round(-box.x0 * dpi))  # columns left of the figure's edge
        assert ours[:, :left].min() < 128  # the labels' first letters
    plt.close(fig)


def test_page_png_pixels_are_means_of_the_300_dpi_blocks():
    """The page PNG is the 300 dpi PNG reduced by averaging each 2 x 2 block, rounded to the nearest level."""
    import io

    import numpy as np
    from PIL import Image

    page, full, _ = report._pngs_and_tight_bbox(figure())
    plt.close("all")
    small = np.asarray(Image.open(io.BytesIO(page)).convert("RGBA"), dtype=int)
    big = np.asarray(Image.open(io.BytesIO(full)).convert("RGBA"), dtype=int)
    h, w = small.shape[:2]
    blocks = big[:2 * h, :2 * w].reshape(h, 2, w, 2, 4)
    assert np.array_equal(small, (blocks.sum(axis=(1, 3)) + 2) // 4)


def test_pdf_figures_embed_truetype_subsets_without_layout_tables():
    """The PDF's fonts are embedded TrueType subsets (text stays text) holding the glyphs drawn, without the
    OpenType layout tables a PDF never reads (report.PDF_FONT_TABLES_DROPPED); fontTools' defaults are left
    as they were."""
    import io
    import zlib

    from fontTools import subset
    from fontTools.ttLib import TTFont

    from matplotlib.backends import _backend_pdf_ps

    def embedded_fonts(pdf: bytes) -> list:
        fonts = []
        for match in re.finditer(rb"<<(.*?)>>\s*stream\r?\n", pdf, re.S):
            start = match.end()
            data = pdf[start:pdf.index(b"endstream", start)]
            try:
                raw = zlib.decompress(data)
            except zlib.error:
                continue
            if raw[:4] in (b"\x00\x01\x00\x00", b"true"):  # an sfnt: an embedded TrueType font
                fonts.append(TTFont(io.BytesIO(raw)))
        return fonts

    before, subsetter = list(subset.Options._drop_tables_default), _backend_pdf_ps.get_glyphs_subset
    pdf = report.figure_files(figure())["pdf"]
    plt.close("all")
    assert subset.Options._drop_tables_default == before and _backend_pdf_ps.get_glyphs_subset is subsetter
    assert b"/FontFile2" in pdf and b"/ToUnicode" in pdf
    fonts = embedded_fonts(pdf)
    assert fonts
    for font in fonts:
        assert "glyf" in font and "hmtx" in font and "loca" in font
        assert not set(report.PDF_FONT_TABLES_DROPPED) & set(font.keys())
        # the fixed subset of report.PDF_FONT_SUBSET_CHARACTERS, not DejaVu Sans's 6000 glyphs
        assert 100 < len(font.getGlyphOrder()) < 200
        cmap = font.getBestCmap()
        assert all(ord(c) in cmap for c in "Months0123456789%–−≥")

    # a character outside the fixed subset: that figure's font is subset to exactly its glyphs, as matplotlib does
    fig = figure()
    fig.axes[0].set_title("Ω ∑ ∞")
    odd = embedded_fonts(report.figure_files(fig)["pdf"])
    plt.close("all")
    assert any(ord("Ω") in f.getBestCmap() and len(f.getGlyphOrder()) < 60 for f in odd)


def test_figure_links_and_synthetic_mark(monkeypatch):
    shown = captured(monkeypatch)
    monkeypatch.setattr(report, "_FIGURES_SHOWN", [0])
    report.set_figure_mark(report.SYNTHETIC_MARK)
    try:
        fig = figure()
        report.show_figure(fig, "Survival", alt="curves", label="Figure 2")
    finally:
        report.set_figure_mark("")
    page = shown[0].data
    assert [t.get_text() for t in fig.texts] == ["Synthetic data"]  # inside the image
    for name, mime in (("figure-2-survival.pdf", "application/pdf"), ("figure-2-survival.svg", "image/svg+xml"),
                       ("figure-2-survival-300dpi.png", "image/png")):
        assert f"<a download='{name}' href='data:{mime};base64," in page
    plain = figure()
    report.show_figure(plain, "Plain", alt="curves")  # the mark is off again: a study of real data
    assert plain.texts == []


def test_site_writes_inlined_figures_to_files(tmp_path):
    """book/_ext/book_site.py: data URIs of the page become files of _images named by their content."""
    import importlib.util

    from helpers.paths import ROOT

    spec = importlib.util.spec_from_file_location("book_site", ROOT / "book" / "_ext" / "book_site.py")
    site = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(site)
    png = base64.b64encode(b"\x89PNG fake").decode()
    body = (f"<a href='data:image/png;base64,{png}'><img src='data:image/png;base64,{png}'/></a>"
            f"<a download='x.pdf' href=\"data:application/pdf;base64,{base64.b64encode(b'%PDF').decode()}\">PDF</a>"
            "<a href='data:text/csv;charset=utf-8;base64,YQ=='>CSV</a>")
    out = site.externalize(body, tmp_path, "../../")
    assert "data:" not in out
    files = sorted(p.name for p in (tmp_path / "_images").iterdir())
    assert len(files) == 2 and {f.rsplit(".", 1)[1] for f in files} == {"png", "pdf"}
    assert out.count("../../_images/") == 3
    # the table's CSV download goes to _tables/, named by the hash of its content (so the build allows it)
    (table,) = (tmp_path / "_tables").iterdir()
    assert table.read_bytes() == b"a" and table.name == hashlib.sha256(b"a").hexdigest()[:20] + ".csv"
    assert f"href='../../_tables/{table.name}'" in out


def test_table_html_is_compact_and_a_long_list_can_stay_off_the_page():
    """pandas' indentation between tags goes, one line break stays (the search index reads cells as words); a
    table shown with max_rows=0 prints its caption, a sentence and its downloads, not its rows."""
    from helpers.report.display import compact_table_html

    html = pd.DataFrame({"a": ["x y", "z"]}).to_html(index=False)
    compact = compact_table_html(html)
    assert "  " not in compact and "<td>x y</td>\n</tr>\n<tr>\n<td>z</td>" in compact
    assert len(compact) < 0.8 * len(html)
    shown = []
    with mock.patch("helpers.report.display.display", shown.append):
        report.show_table(pd.DataFrame({"a": range(5)}), caption="Long list", max_rows=0, index=False)
        report.show_table(pd.DataFrame({"a": range(5)}), caption="Cut", max_rows=2, index=False)
    off, cut = (item.data for item in shown)
    assert "<table" not in off and "Long list" in off and "The 5 rows of this table are not printed" in off
    assert "download='long-list.csv'" in off and "download='long-list.docx'" in off
    assert cut.count("<tr>") == 2 and "Showing 2 of 5 rows; all 5 are in the downloads below." in cut
    csv = base64.b64decode(re.search(r"data:text/csv;charset=utf-8;base64,([^']+)'", off).group(1)).decode()
    assert csv.splitlines() == ["a", "0", "1", "2", "3", "4"]


def test_hazard_ratios_print_with_the_studys_decimals():
    """Seed 004 prints HRs to 3 decimals ("HR 0.404, 95% CI: 0.197–0.829", Results 3.3); the others to 2."""
    from helpers.report import format as fmt
    from helpers.study.spec import load_spec

    assert load_spec("haic_after_ab").survival.hr_decimals == 3
    assert load_spec("erhcc_hait_mp").survival.hr_decimals == 2
    try:
        fmt.set_hr_decimals(3)
        assert fmt.format_hr(0.40412, 0.19709, 0.82871) == "0.404 (0.197–0.829)"
        assert fmt.hr_text({"hr": 2.0794, "lower": 1.2321, "upper": 3.4968}) == "2.079 (1.232–3.497)"
        assert fmt.format_hr(0.40412, 0.19709, 0.82871, decimals=2) == "0.40 (0.20–0.83)"  # said explicitly
    finally:
        fmt.set_hr_decimals(2)
    assert fmt.format_hr(0.40412, 0.19709, 0.82871) == "0.40 (0.20–0.83)"


def test_table_csv_gives_the_numbers_of_formatted_cells_in_columns_of_their_own():
    df = pd.DataFrame({"Arm": ["HAIT", "HAIT-M-P"], "Median (95% CI)": ["4.5 (3.3–6.3)", "13.0 (8.4–NR)"],
                       "n (%)": ["47 (92.2%)", "3 (6.0%)"], "P": ["<0.001", "0.121"]})
    lines = report.table_csv(df, index=False).splitlines()
    assert lines[0] == ("Arm,Median (95% CI),Median (95% CI): estimate,Median (95% CI): lower,Median (95% CI): upper,"
                        "n (%),n (%): n,n (%): %,P,P: value,P: relation")
    assert lines[1] == "HAIT,4.5 (3.3–6.3),4.5,3.3,6.3,47 (92.2%),47,92.2,<0.001,0.001,<"
    assert lines[2] == "HAIT-M-P,13.0 (8.4–NR),13.0,8.4,,3 (6.0%),3,6.0,0.121,0.121,"  # NR: empty
    # a column of mixed forms is left as text (the table as it was); split tables join their header rows
    mixed = pd.DataFrame({("PFS", "HR (95% CI)"): ["0.36 (0.21–0.62)", "reference"]})
    assert report.table_csv(mixed, index=False).splitlines()[:2] == ["PFS", "HR (95% CI)"]
    two_rows = pd.DataFrame({("PFS", "HR (95% CI)"): ["0.36 (0.21–0.62)", "NE"]})
    assert report.table_csv(two_rows, index=False).splitlines() == [
        "PFS / HR (95% CI),PFS / HR (95% CI): estimate,PFS / HR (95% CI): lower,PFS / HR (95% CI): upper",
        "0.36 (0.21–0.62),0.36,0.21,0.62", "NE,,,"]


def test_each_chapter_summary_counts_only_its_own_targets():
    """The survival chapter's summary counts time-to-event targets only (not the response and adverse-event rows of
    the report, which the response and safety chapters count); the four parts add up to the whole report."""
    import pandas as pd

    from helpers.study.spec import load_spec

    for study, sizes in {"erhcc_hait_mp": {"baseline": 245, "survival": 168, "response": 60, "safety": 251},
                         "haic_after_ab": {"baseline": 15, "survival": 79, "response": 16}}.items():
        spec = load_spec(study)
        rows = pd.read_csv(spec.folder / "reconstruction_report.csv")
        assert sum(sizes.values()) == len(rows)
        for part, n in sizes.items():
            assert f"aimed at {n} published" in report.reconstruction_summary(spec, part=part), (study, part)
    assert report.reconstruction_summary(load_spec("haic_after_ab"), part="safety") == ""
    with pytest.raises(ValueError, match="did you mean 'survival'|did you mean `survival`"):
        report.reconstruction_summary(load_spec("haic_after_ab"), part="surival")


def test_response_and_adverse_event_targets_are_named_in_words():
    from helpers.study.spec import load_spec

    spec = load_spec("erhcc_hait_mp")
    assert report.target_label(spec, "best_response", "recist11", "ORR", "HAIT", "n") == "ORR (RECIST 1.1), n (HAIT)"
    assert report.target_label(spec, "adverse_events", "rash", "grade_3_4", "comparison", "p_value") == \
        "Rash, grade 3-4, p between the arms"
    assert report.target_label(spec, "adverse_events", "overall", "any_grade", "HAIT", "pct") == \
        "any adverse event, any grade, % (HAIT)"
    text = report.reconstruction_summary(load_spec("haic_after_ab"), part="response")
    assert "- DCR (mRECIST), p between the arms: published 0.008, reconstructed 0.0149 (proven out of reach)" in text


def test_reconstruction_summary_counts_the_targets_in_a_proven_conflict():
    """Seed 004's 12-month OS and PFS p-values contradict the rates printed beside them (reconstruction.yaml's
    ``conflicts``): the survival summary leaves them out of the reachable denominator and says why, with the
    counts taken here from the committed report."""
    import pandas as pd

    from helpers.study.spec import load_spec

    spec = load_spec("haic_after_ab")
    rows = pd.read_csv(spec.folder / "reconstruction_report.csv")
    rows = rows[~rows["analysis"].isin(["table1", "psm", "best_response", "adverse_events"])]
    hit, conflict = int(rows["hit"].sum()), int((rows["status"] == "conflict").sum())
    assert conflict == 2 and (rows["status"] == "out_of_reach").sum() == 0
    text = report.reconstruction_summary(spec, part="survival")
    assert (f"2 of the {len(rows) - hit} numbers it missed are proven out of reach beside other published numbers "
            f"they contradict, each by the test named in the report's `proof` column, so it hit {hit} of the "
            f"{len(rows) - 2} that some table could print.") in text
    # the report is named once; the misses are found by their status
    assert text.count("reconstruction_report.csv") == 1
    assert text.endswith(f"The {len(rows) - hit} numbers it could not reach are the rows of that file whose `status` "
                         "is not `hit`.")
