"""Helpers behind the HCC cohort book, in layers (each imports only the layers below it):

``paths`` < ``stats`` < ``study`` < ``report`` < ``analyses`` < ``synth`` < ``build``.

See ``ARCHITECTURE.md`` at the top of the repository.
"""
