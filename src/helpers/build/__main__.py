"""``python -m helpers.build``: validate, execute and render the book (see :mod:`helpers.build.pipeline`)."""
import sys

from helpers.build.pipeline import main

sys.exit(main())
