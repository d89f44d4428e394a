"""eDelivery (F63, F44) and its signed receipts (F64): an administration pushes an eDocument into
the wallet of a person who subscribed; each delivery, reading and unread delay gives the sender a
receipt sealed by the platform."""
