"""``python -m helpers.build._jupyter_book JOBS build ...``: the ``jupyter-book`` command, with Sphinx reading
and writing the pages in JOBS processes.

Jupyter Book 1's command line has no ``-j``, though its Sphinx entry point (``jupyter_book.sphinx.build_sphinx``)
takes ``jobs``; the command imports that function each time it runs, so wrapping it here passes the number on.
Sphinx uses the processes only if every extension declares itself safe for parallel reading and writing (the
book's own do); otherwise it says so in a warning, which is an error under ``-W``.
"""
from __future__ import annotations

import functools
import sys


def main(argv: list[str]) -> None:
    from jupyter_book import sphinx
    from jupyter_book.cli.main import main as command

    jobs, args = int(argv[0]), argv[1:]
    sphinx.build_sphinx = functools.partial(sphinx.build_sphinx, jobs=jobs)
    command(args, prog_name="jupyter-book")


if __name__ == "__main__":
    main(sys.argv[1:])
