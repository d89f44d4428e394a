"""A person's profile: identity, address, contact data and preferences (F7, F9)."""
