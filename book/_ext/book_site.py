"""Sphinx tweaks for the published site (loaded from ``_config.yml``: ``sphinx.local_extensions``).

* No live-code (thebe) machinery: the book never offers to execute its notebooks in the cloud, and
  Jupyter Book 1 registers sphinx-thebe's scripts twice, which the browser reports as a console error
  ("Identifier 'THEBE_JS_URL' has already been declared").
* Each script is included once per page (sphinx-togglebutton's settings are also registered twice).
"""
from __future__ import annotations


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


def setup(app):
    app.connect("config-inited", _drop_thebe)
    app.connect("html-page-context", _dedupe_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
