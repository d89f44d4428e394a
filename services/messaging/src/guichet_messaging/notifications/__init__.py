"""F65: notifications — composed in the person's language from the platform's events, stored
one per channel with their delivery status, delivered by e-mail and SMS with retries."""
