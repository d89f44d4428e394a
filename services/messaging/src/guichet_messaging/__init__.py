"""Messaging: every outgoing notification of the platform (e-mail and SMS, in the person's
language, retried until delivered), and later the exchanges with administrations and eDelivery."""
