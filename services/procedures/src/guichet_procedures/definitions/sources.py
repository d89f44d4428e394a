"""Where a field's prefilled value comes from (F24): the person's profile or a register field of
authentic data, and whether the value is locked once prefilled.

```yaml
- id: previous_address
  type: address
  source: {register: person.address}   # or {profile: email}
  locked: true                         # optional: the source's value cannot be changed
```
Checked when a definition is loaded: one source per field, a name this list knows, a field type
that can hold the source's value, no source inside a group, a locked field needs a source, and a
register source only for a procedure of citizens (the register is read about the person the
request is for).

Services never import each other: `REGISTER_FIELDS` mirrors the fields of authentic data's
catalogue (`guichet_authentic_data.registers.fields`) that a form can hold; a unit test of
authentic data compares them, and that the `procedures:prefill:<code>` purposes grant exactly the
register fields each catalogue file names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

SourceKind = Literal["profile", "register"]

# Register field id -> its kind in authentic data, and the field types that can hold it.
REGISTER_FIELDS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "person.national_id": ("text", ("national_id", "text")),
    "person.given_names": ("text", ("text",)),
    "person.surname": ("text", ("text",)),
    "person.birth_date": ("date", ("date",)),
    "person.birth_place": ("text", ("text",)),
    "person.nationality": ("text", ("text",)),
    "person.address": ("address", ("address",)),
}
# The profile identity keeps (ProfileService.GetProfile) -> the field types that can hold it.
PROFILE_FIELDS: Mapping[str, tuple[str, ...]] = {
    "first_name": ("text",),
    "last_name": ("text",),
    "email": ("email", "text"),
    "phone": ("phone", "text"),
    "address": ("address",),
    "national_id": ("national_id", "text"),
    "birth_date": ("date",),
}


@dataclass(frozen=True)
class FieldSource:
    kind: SourceKind
    name: str  # a profile field, or a register field id (person.address)


def parse_source(
    raw: Any, field_type: str, path: str, add: Any, *, in_group: bool
) -> FieldSource | None:
    """The `source` of a field of `field_type`, or None after `add(path, problem)`."""
    if in_group:
        add(path, "a field inside a group takes no source: prefill fills whole fields")
        return None
    if not isinstance(raw, Mapping) or len(raw) != 1:
        add(path, "expected one source: {profile: <field>} or {register: <field id>}")
        return None
    [(kind, name)] = raw.items()
    known: Mapping[str, Any]
    if kind == "profile":
        known, types = PROFILE_FIELDS, PROFILE_FIELDS.get(name)
    elif kind == "register":
        known = REGISTER_FIELDS
        types = REGISTER_FIELDS[name][1] if name in REGISTER_FIELDS else None
    else:
        add(path, f"{kind!r} is not a source; one of profile, register")
        return None
    if not isinstance(name, str) or types is None:
        add(f"{path}.{kind}", f"{name!r} is not one of {', '.join(known)}")
        return None
    if field_type not in types:
        add(path, f"a {field_type} field cannot hold {kind} {name} (a {' or '.join(types)})")
        return None
    return FieldSource(kind, name)
