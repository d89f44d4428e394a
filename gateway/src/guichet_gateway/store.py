"""The gateway's own PostgreSQL database: what the web client keeps between requests.

Shared by every replica, so a person's session works whichever replica answers. Tables are
SQLAlchemy Core (the gateway has no domain model); Alembic migrations in gateway/migrations.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# A signed-in browser. The cookie holds a random key; only its SHA-256 is stored, so the table
# alone cannot be replayed as cookies. The tokens never leave the server and are stored
# encrypted (web/session.py TokenVault).
web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("key_hash", sa.LargeBinary(32), primary_key=True),
    sa.Column("subject", sa.String(80), nullable=False, index=True),
    # Keycloak's session id (`sid`): what its back-channel logout names.
    sa.Column("keycloak_session", sa.String(80), nullable=False, index=True),
    sa.Column("access_token", sa.Text, nullable=False),
    sa.Column("access_expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("refresh_token", sa.Text, nullable=False),
    sa.Column("id_token", sa.Text, nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("acting_context", sa.String(80), nullable=False, server_default="private"),
    # The person's language preference (fr, de, en), read at sign-in; pages speak it.
    sa.Column("language", sa.String(2), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # When the refresh token (so the session) ends; purged after.
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

# A sign-in under way: between the redirect to Keycloak and its answer (state, PKCE verifier,
# nonce and where to come back). Single use, short-lived.
sign_in_attempts = sa.Table(
    "sign_in_attempts",
    metadata,
    sa.Column("state", sa.String(64), primary_key=True),
    sa.Column("code_verifier", sa.String(128), nullable=False),
    sa.Column("nonce", sa.String(64), nullable=False),
    sa.Column("return_to", sa.String(2048), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
)
