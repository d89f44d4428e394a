"""Authentic data: registers, purpose-bound access, and who looked at a person's data."""
