"""Turning article files into a searchable index: load, normalise, split, chunk, embed, store."""
