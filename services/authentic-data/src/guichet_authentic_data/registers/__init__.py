"""The registers the administrations keep (the sources of authentic data) and the synthetic
implementation that development and tests use: its tables, generator, loader and report desk."""
