"""Pieces: a person's or a company's typed documents, their files and versions, immutable copies
for requests, eDocuments received, and the account purge."""
