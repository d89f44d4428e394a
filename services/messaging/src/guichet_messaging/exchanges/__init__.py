"""Exchanges between persons and administrations (F60 to F62, F66): threads of messages chosen from
the taxonomy, read/unread marks, hide/show, documents sent to an administration."""
