"""Procedure definitions: the format of the catalogue's files, their checks, and the form rules.

Pure logic, no I/O except `loader` reading the catalogue directory. Entry points:
`loader.load_catalogue(dir)`, `model.parse_definition(mapping)` (a stored version read back),
`form.Form(definition)`, `schema.json_schema(definition, language)`, `fields.display(...)`.
"""
