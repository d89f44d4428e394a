"""eTracking domain rules: numbers, paper forms, statuses, contact opt-in and the printable sheet.

Pure logic only (no database, no network); the service layer imports the sub-modules directly.
"""
