"""The rendered site (helpers.build.render): what Sphinx leaves in it between builds."""
from __future__ import annotations


def test_images_no_page_links_to_leave_the_site(tmp_path):
    """Sphinx's output is kept between builds and figure files are named by content: the files of a figure that
    changed are removed, those any page links to (also from a sub-folder, also URL-encoded) stay."""
    from helpers.build.render import prune_unreferenced_images

    images = tmp_path / "_images"
    images.mkdir()
    for name in ("a1.png", "b2.pdf", "old.png", "my figure.png", "c3.svg"):
        (images / name).write_bytes(b"x")
    (tmp_path / "book" / "s").mkdir(parents=True)
    (tmp_path / "index.html").write_text("<img src='_images/a1.png'><a href=\"_images/my%20figure.png\">", "utf-8")
    (tmp_path / "book" / "s" / "p.html").write_text("<a href='../../_images/b2.pdf'>PDF</a>"
                                                    "<a href='../../_images/c3.svg#x'>SVG</a>", "utf-8")
    stale = prune_unreferenced_images(tmp_path)
    assert [p.name for p in stale] == ["old.png"]
    assert sorted(p.name for p in images.iterdir()) == ["a1.png", "b2.pdf", "c3.svg", "my figure.png"]
    assert prune_unreferenced_images(tmp_path / "no-site") == []


def test_stale_table_downloads_leave_the_site_too(tmp_path):
    import hashlib

    from helpers.build.render import prune_unreferenced_images

    tables = tmp_path / "_tables"
    tables.mkdir()
    names = [hashlib.sha256(text).hexdigest()[:20] + ".csv" for text in (b"a\n1\n", b"a\n2\n")]
    for name, text in zip(names, (b"a\n1\n", b"a\n2\n")):
        (tables / name).write_bytes(text)
    (tmp_path / "p.html").write_text(f"<a download='t.csv' href='_tables/{names[1]}'>CSV</a>", "utf-8")
    assert [p.name for p in prune_unreferenced_images(tmp_path)] == [names[0]]
    assert [p.name for p in tables.iterdir()] == [names[1]]
