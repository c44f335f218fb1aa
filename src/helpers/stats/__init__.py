"""Statistics engines: arrays in, small result objects out. They know nothing about studies.

Each function names the R function whose conventions it follows (``survival::survfit``, ``coxph``,
``survdiff``, ``survRM2::rmst2``, ``MatchIt::matchit``, ``mice::mice``, ``mice::pool``, ``chisq.test``,
``fisher.test``, ...).
"""
