"""Certificates built from the national register (F51): a PDF in the person's language, sealed
by the platform (PAdES), recorded so that anyone can verify it by its id and hash."""
