"""The site link checker on a hand-made site with known broken references."""
from __future__ import annotations

from helpers.build.sitecheck import broken_links


def test_link_checker_finds_missing_files_and_fragments(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "a.css").write_text("", encoding="utf-8")
    (tmp_path / "index.html").write_text(
        "<link href='_static/a.css'><a href='book/page.html#fig-1'>ok</a><a href='book/page.html#nope'>x</a>"
        "<a href='https://example.org/missing'>external</a><img src='data:image/png;base64,AAAA'>"
        "<a href='#top'>self</a><span id='top'></span>", encoding="utf-8")
    (tmp_path / "book" / "page.html").write_text(
        "<figure id='fig-1'></figure><img src='../_images/gone.png'><script src='../_static/a.css'></script>"
        "<a href='../../outside.html'>out</a><a href='other.html'>missing</a>", encoding="utf-8")
    found = sorted(str(b) for b in broken_links(tmp_path))
    assert found == [
        "book/page.html: <a> ../../outside.html: points outside the site",
        "book/page.html: <a> other.html: file not found",
        "book/page.html: <img> ../_images/gone.png: file not found",
        "index.html: <a> book/page.html#nope: no element with id 'nope'",
    ]
