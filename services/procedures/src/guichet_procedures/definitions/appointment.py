"""Appointments a procedure offers or requires (F32), as a definition names them.

```yaml
appointment:
  mode: required                 # optional | required (submission needs a held slot)
  hold_minutes: 10               # how long a slot is held for a draft (1 to 60; default 10)
  places:                        # where appointments happen; slots are the administration's
    - code: hotel-de-ville       # stable id [a-z][a-z0-9-]{1,39}, unique in the definition
      name: {fr: ..., de: ..., en: ...}
      address: "1 Place Guillaume II, L-1648 Luxembourg"
```
The administration opens slots at these places (`DefineSlots`); a slot of a place the pinned
version does not name is not offered to its drafts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from guichet_procedures.definitions.model import LocalText, Problems

MODES = ("optional", "required")
PLACE_CODE = re.compile(r"[a-z][a-z0-9-]{1,39}")
DEFAULT_HOLD_MINUTES = 10
MAX_HOLD_MINUTES = 60
MAX_PLACES = 50
MAX_ADDRESS = 300


@dataclass(frozen=True)
class Place:
    code: str
    name: LocalText
    address: str


@dataclass(frozen=True)
class AppointmentOffer:
    mode: str  # optional | required
    places: tuple[Place, ...]
    hold_minutes: int = DEFAULT_HOLD_MINUTES

    @property
    def required(self) -> bool:
        return self.mode == "required"

    def place(self, code: str) -> Place | None:
        return next((place for place in self.places if place.code == code), None)


def parse_appointment(raw: Any, problems: Problems) -> AppointmentOffer | None:
    """The `appointment` key of a definition; its problems go to `problems`."""
    from guichet_procedures.definitions.model import _Object, _printable

    node = _Object(raw, "appointment", problems, ("mode", "hold_minutes", "places"))
    mode = node.string("mode", choices=MODES)
    hold = node.integer("hold_minutes", DEFAULT_HOLD_MINUTES, 1, MAX_HOLD_MINUTES)
    places: list[Place] = []
    raw_places = node.items("places")
    if node.has("places") and not raw_places:
        problems.add("appointment.places", "name at least one place")
    if len(raw_places) > MAX_PLACES:
        problems.add("appointment.places", f"at most {MAX_PLACES} places")
    for index, item in enumerate(raw_places):
        place = _Object(item, f"appointment.places[{index}]", problems, ("code", "name", "address"))
        code = place.string("code", PLACE_CODE)
        name = place.local("name")
        address = place.string("address")
        if address is not None and (
            not address.strip() or len(address) > MAX_ADDRESS or not _printable(address)
        ):
            problems.add(place.at("address"), f"a printable text of 1 to {MAX_ADDRESS} characters")
            address = None
        if code is not None and any(found.code == code for found in places):
            problems.add(place.at("code"), f"duplicate place {code!r}")
        elif code is not None and name is not None and address is not None:
            places.append(Place(code, name, address.strip()))
    if mode is None or hold is None or len(places) != len(raw_places):
        return None
    return AppointmentOffer(mode, tuple(places), hold)
