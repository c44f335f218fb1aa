"""Link checker for the built site: every internal link, image, script and stylesheet must resolve.

``broken_links(site_dir)`` parses every HTML file under ``site_dir`` and returns one row per reference that
does not resolve: a relative ``href``/``src`` whose file is missing, or a ``#fragment`` with no element of that
id in the target page. Theme template fragments under ``_static/`` are not pages. External (``http:``, ``https:``, ``mailto:``) and ``data:`` URLs are not followed: the
site must work offline.
"""
from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

EXTERNAL_SCHEMES = {"http", "https", "mailto", "data", "javascript", "tel"}
LINK_ATTRIBUTES = {"a": "href", "link": "href", "img": "src", "script": "src", "iframe": "src", "source": "src"}


@dataclass(frozen=True)
class BrokenLink:
    page: str
    tag: str
    url: str
    problem: str

    def __str__(self) -> str:
        return f"{self.page}: <{self.tag}> {self.url}: {self.problem}"


class _PageParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for key in ("id", "name"):
            if attributes.get(key):
                self.ids.add(attributes[key])
        attribute = LINK_ATTRIBUTES.get(tag)
        if attribute and attributes.get(attribute):
            self.links.append((tag, attributes[attribute]))


def _parse(path: Path) -> _PageParser:
    parser = _PageParser()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return parser


def broken_links(site_dir: Path | str) -> list[BrokenLink]:
    """Every internal reference of every HTML page under ``site_dir`` that does not resolve."""
    site = Path(site_dir).resolve()
    # _static/ holds the theme's template fragments (Jinja, not pages)
    pages = {p: _parse(p) for p in sorted(site.rglob("*.html")) if "_static" not in p.relative_to(site).parts}
    problems = []
    for page, parsed in pages.items():
        name = str(page.relative_to(site))
        for tag, url in parsed.links:
            parts = urlsplit(url)
            if parts.scheme in EXTERNAL_SCHEMES or parts.netloc:
                continue
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if parts.path.endswith("/") or (target.is_dir() and parts.path):
                target = target / "index.html"
            if not target.is_relative_to(site):
                problems.append(BrokenLink(name, tag, url, "points outside the site"))
                continue
            if not target.exists():
                problems.append(BrokenLink(name, tag, url, "file not found"))
                continue
            if parts.fragment and target.suffix == ".html" and tag == "a":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    problems.append(BrokenLink(name, tag, url, f"no element with id '{parts.fragment}'"))
    return problems
