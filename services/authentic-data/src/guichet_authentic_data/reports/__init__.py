"""Reports of wrong data (F57): filed by the person, sent to the source, answered by it."""
