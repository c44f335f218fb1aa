"""One module per chapter of the book: each maps a study's columns and conventions onto the statistics
engines and returns its numbers (rows of the analysis-results table) and its displays."""
