"""The web client: pages rendered by the gateway (Jinja2 on the design system's classes)."""
