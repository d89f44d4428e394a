"""Procedures: the catalogue, forms, drafts and submitted requests, and the administrations'
side."""
