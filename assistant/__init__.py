"""Answering questions from the index: retrieval, extractive answers with citations, settings, CLI."""
