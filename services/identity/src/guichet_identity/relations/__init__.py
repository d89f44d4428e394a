"""Relations and mandates: acting for someone else, and the audit of those acts (F10)."""
