"""Professional spaces of companies and their collaborators (F11)."""
