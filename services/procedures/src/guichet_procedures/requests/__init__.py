"""Requests: drafts, submissions, statuses, corrections, proofs of deposit."""
