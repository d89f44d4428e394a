"""The login account in Keycloak and its lifecycle: registration, password, e-mail, deletion."""
