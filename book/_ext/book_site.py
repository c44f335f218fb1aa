"""Sphinx tweaks for the published site (loaded from ``_config.yml``: ``sphinx.local_extensions``).

* No live-code (thebe) machinery: the book never offers to execute its notebooks in the cloud, and
  Jupyter Book 1 registers sphinx-thebe's scripts twice, which the browser reports as a console error
  ("Identifier 'THEBE_JS_URL' has already been declared").
* Each script is included once per page (sphinx-togglebutton's settings are also registered twice).
* Each study page says what it is in its HTML ``<title>`` (browser tabs, bookmarks, search results):
  "Survival, matched cohort — Seed 000 (HAIT vs HAIT-M-P)" instead of "Survival — <book title>" on every
  study's survival page (:func:`page_title`).
* Figures and downloads are files, not data URIs inlined in the pages: every ``data:`` image, PDF, SVG or Word
  table in a page's body (``helpers.report.display`` writes them so into the notebooks) is written once to
  ``_images/<hash of its content>.<ext>``, every table's CSV to ``_tables/<hash>.csv``, and the page links to
  the file (:func:`externalize`).
* Search finds numbers: a decimal such as "0.36" is one word of the index and of the query
  (:func:`number_search_language`).
"""
from __future__ import annotations

import base64
import hashlib
import html
import os
import re
from pathlib import Path

import yaml


def _templates(app, config) -> None:
    """The page template that prints each page's own title (``templates/layout.html``)."""
    config.templates_path = [str(Path(__file__).parent / "templates")] + list(config.templates_path or [])


def _drop_thebe(app, config) -> None:
    for event, listeners in list(app.events.listeners.items()):
        app.events.listeners[event] = [
            listener for listener in listeners
            if not getattr(listener.handler, "__module__", "").startswith("sphinx_thebe")]


def _script_key(js) -> tuple:
    attributes = getattr(js, "attributes", {}) or {}
    return (str(js), tuple(sorted((k, str(v)) for k, v in attributes.items())))


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    seen, kept = set(), []
    for js in context.get("script_files", []):
        key = _script_key(js)
        if key in seen or "thebe" in str(js).lower() or "thebe" in str(getattr(js, "attributes", {})).lower():
            continue
        seen.add(key)
        kept.append(js)
    context["script_files"] = kept
    context["css_files"] = [css for css in context.get("css_files", []) if "thebe" not in str(css).lower()]


def toc_titles(toc_file: Path) -> dict[str, str]:
    """``{"book/erhcc_hait_mp/survival_matched": "Survival, matched cohort", ...}``: the TOC's own titles."""
    found: dict[str, str] = {}

    def walk(node):
        if isinstance(node, dict):
            if "file" in node and node.get("title"):
                found[str(node["file"])] = str(node["title"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(Path(toc_file).read_text(encoding="utf-8")) if Path(toc_file).exists() else {})
    return found


#: study.yaml text -> its label: every page of a study needs it, and PyYAML takes about 50 ms for a spec
_STUDY_LABELS: dict[str, str] = {}


def study_label(spec_file: Path) -> str:
    """The study as a title names it: "Seed 000 (HAIT vs HAIT-M-P)" for a seed's study (the seed number and
    its two arms, reference first), else the spec's ``short_title``."""
    text = Path(spec_file).read_text(encoding="utf-8")
    if text not in _STUDY_LABELS:
        _STUDY_LABELS[text] = _label_of(yaml.safe_load(text) or {}, spec_file)
    return _STUDY_LABELS[text]


def _label_of(spec: dict, spec_file: Path) -> str:
    seed = re.match(r"(\d+)_", str(spec.get("seed_file") or ""))
    arm = spec.get("arm") or {}
    levels = arm.get("levels") or {}
    if seed and len(levels) == 2:
        codes = list(levels)
        reference = arm.get("reference", codes[0])
        order = [reference] + [c for c in codes if c != reference]
        return f"Seed {seed.group(1)} ({' vs '.join(str(levels[c]) for c in order)})"
    return str(spec.get("short_title") or spec.get("title") or spec_file.parent.name)


def page_title(pagename: str, heading: str, srcdir: Path, titles: dict[str, str]) -> tuple[str, str] | None:
    """(title, suffix) of a study page ``book/<study>/<page>``: the TOC title without the study's name
    ("Colon trial: survival" -> "Survival") or the page's heading, and " — <study label>"; None otherwise."""
    parts = pagename.split("/")
    spec_file = Path(srcdir) / "data" / "studies" / parts[1] / "study.yaml" if len(parts) == 3 else None
    if parts[0] != "book" or spec_file is None or not spec_file.exists():
        return None
    title = titles.get(pagename, heading or parts[2].replace("_", " ").capitalize())
    if ": " in title:
        title = title.split(": ", 1)[1]
        title = title[:1].upper() + title[1:]
    return title, f" \u2014 {html.escape(study_label(spec_file))}"


def _titles(app, pagename, templatename, context, doctree) -> None:
    if pagename == app.config.root_doc:  # "HCC cohort studies, reproduced — HCC cohort studies, reproduced"
        context["book_titlesuffix"] = ""
        return
    if not hasattr(app, "_book_toc_titles"):
        app._book_toc_titles = toc_titles(Path(app.srcdir) / "_toc.yml")
    found = page_title(pagename, re.sub(r"<[^>]+>", "", str(context.get("title") or "")), Path(app.srcdir),
                       app._book_toc_titles)
    if found:
        context["title"], context["book_titlesuffix"] = found


#: The inlined files written out as files, by type: (suffix, folder of the site).
EXTERNAL_TYPES = {"image/png": ("png", "_images"), "image/svg+xml": ("svg", "_images"),
                  "application/pdf": ("pdf", "_images"),
                  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ("docx", "_images"),
                  # a table's CSV download: the only data files of the site besides downloads/, allowed there by
                  # helpers.build.render.refuse_data_files because each is named by its content's hash
                  "text/csv": ("csv", "_tables")}
DATA_URI = re.compile(r"""(?P<attr>src|href)=(?P<q>['"])data:(?P<mime>"""
                      + "|".join(re.escape(m) for m in EXTERNAL_TYPES)
                      + r""")(?:;charset=utf-8)?;base64,(?P<data>[A-Za-z0-9+/=]+)(?P=q)""")


def externalize(body: str, site: Path, prefix: str) -> str:
    """``body`` with every base64 PNG, SVG, PDF, Word and CSV data URI replaced by a link to a file of the site's
    ``_images`` (``_tables`` for CSV) named by its content (``prefix`` leads from the page to the site's
    root); identical files are written once."""
    def swap(match):
        data = base64.b64decode(match.group("data"))
        suffix, folder = EXTERNAL_TYPES[match.group("mime")]
        name = f"{hashlib.sha256(data).hexdigest()[:20]}.{suffix}"
        target = Path(site) / folder / name
        if not target.exists():  # written whole, then renamed: pages are written in parallel
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{name}.{os.getpid()}")
            partial.write_bytes(data)
            os.replace(partial, target)
        q = match.group("q")
        return f"{match.group('attr')}={q}{prefix}{folder}/{name}{q}"

    return DATA_URI.sub(swap, body)


def _externalize(app, pagename, templatename, context, doctree) -> None:
    if "body" in context and "data:" in context["body"]:
        context["body"] = externalize(context["body"], Path(app.outdir), "../" * pagename.count("/"))


#: A decimal number is one search word ("0.36", "12.8"): Sphinx's English splitter cuts at the point, so "0.36"
#: was the two words "0" and "36", and the query's whole numbers are dropped (searchtools.js).
NUMBER_OR_WORD = re.compile(r"\d+(?:\.\d+)+|\w+")
#: The same rule in the browser: language_data.js (which loads after searchtools.js) replaces its splitQuery;
#: the second class is the default's.
SPLIT_QUERY_JS = ("var splitQuery = (query) => query.match("
                  "/\\d+(?:\\.\\d+)+|[\\p{Letter}\\p{Number}_\\p{Emoji_Presentation}]+/gu) || [];")


def number_search_language():
    """Sphinx's English search language, with decimal numbers kept whole, both in the index (tables' raw HTML
    is indexed as text) and in the query, so that searching "0.36" finds the page printing that hazard ratio."""
    from sphinx.search.en import SearchEnglish

    class SearchEnglishNumbers(SearchEnglish):
        _word_re = NUMBER_OR_WORD
        js_splitter_code = SPLIT_QUERY_JS

    return SearchEnglishNumbers


def _declare_multitoc_numbering_parallel_safe(app) -> None:
    """sphinx-external-toc always loads sphinx-multitoc-numbering, which does not say whether Sphinx may read
    and write pages in parallel, so Sphinx would read serially (with a warning, an error under -W). It only
    replaces ``TocTreeCollector.assign_section_numbers``, which Sphinx runs in the main process on the merged
    environment, so it is safe both ways (and this book numbers no toctree: ``use_multitoc_numbering`` is off)."""
    extension = app.extensions.get("sphinx_multitoc_numbering")
    if extension is not None:
        extension.parallel_read_safe = extension.parallel_write_safe = True


def setup(app):
    app.add_search_language(number_search_language())
    app.connect("builder-inited", _declare_multitoc_numbering_parallel_safe)
    app.connect("config-inited", _drop_thebe)
    app.connect("config-inited", _templates)
    app.connect("html-page-context", _dedupe_scripts)
    app.connect("html-page-context", _titles)
    app.connect("html-page-context", _externalize)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
