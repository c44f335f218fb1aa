"""Displays for the book: figures, captioned tables, notices, and the one formatting module."""
