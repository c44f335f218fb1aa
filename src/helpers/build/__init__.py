"""The build: validate every study, execute the notebooks with papermill, render the book, check the site.

``python -m helpers.build`` (``make book``) runs :func:`helpers.build.pipeline.main`.
"""
