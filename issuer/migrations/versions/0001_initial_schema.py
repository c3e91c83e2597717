"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-30 04:01:31.557244
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import issuer.db

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "tenants",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("prefecture", sa.String(length=16), nullable=False),
        sa.Column("prefecture_code", sa.String(length=6), nullable=False),
        sa.Column("did", sa.String(length=512), nullable=False),
        sa.Column("did_method", sa.String(length=8), nullable=False),
        sa.Column("public_url", sa.String(length=512), nullable=False),
        sa.Column("created_at", issuer.db.UTCDateTime(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("lg_code", name=op.f("pk_tenants")),
        sa.UniqueConstraint("did", name=op.f("uq_tenants_did")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("token_id", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=True),
        sa.Column("created_at", issuer.db.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", issuer.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["tenants.lg_code"], name=op.f("fk_api_tokens_lg_code_tenants")
        ),
        sa.PrimaryKeyConstraint("lg_code", "token_id", name=op.f("pk_api_tokens")),
    )
    op.create_table(
        "audit_heads",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["tenants.lg_code"], name=op.f("fk_audit_heads_lg_code_tenants")
        ),
        sa.PrimaryKeyConstraint("lg_code", name=op.f("pk_audit_heads")),
    )
    op.create_table(
        "audit_log",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", issuer.db.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=512), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["tenants.lg_code"], name=op.f("fk_audit_log_lg_code_tenants")
        ),
        sa.PrimaryKeyConstraint("lg_code", "seq", name=op.f("pk_audit_log")),
    )
    op.create_table(
        "credentials",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("credential_id", sa.String(length=64), nullable=False),
        sa.Column("holder_did", sa.String(length=512), nullable=True),
        sa.Column("tier", sa.String(length=16), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("issued_at", issuer.db.UTCDateTime(), nullable=False),
        sa.Column("valid_from", issuer.db.UTCDateTime(), nullable=True),
        sa.Column("valid_until", issuer.db.UTCDateTime(), nullable=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["tenants.lg_code"], name=op.f("fk_credentials_lg_code_tenants")
        ),
        sa.PrimaryKeyConstraint("lg_code", "credential_id", name=op.f("pk_credentials")),
    )
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.create_index("ix_credentials_issued", ["lg_code", "issued_at"], unique=False)

    op.create_table(
        "nonces",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("expires_at", issuer.db.UTCDateTime(), nullable=False),
        sa.Column("used_at", issuer.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["tenants.lg_code"], name=op.f("fk_nonces_lg_code_tenants")
        ),
        sa.PrimaryKeyConstraint("lg_code", "nonce", name=op.f("pk_nonces")),
    )
    op.create_table(
        "offers",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("tx_code_hash", sa.String(length=64), nullable=True),
        sa.Column("tx_attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", issuer.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", issuer.db.UTCDateTime(), nullable=False),
        sa.Column("redeemed_at", issuer.db.UTCDateTime(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("token_expires_at", issuer.db.UTCDateTime(), nullable=True),
        sa.Column("credential_id", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["tenants.lg_code"], name=op.f("fk_offers_lg_code_tenants")
        ),
        sa.PrimaryKeyConstraint("lg_code", "offer_id", name=op.f("pk_offers")),
    )
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.create_index("ix_offers_code", ["lg_code", "code_hash"], unique=True)
        batch_op.create_index("ix_offers_token", ["lg_code", "token_hash"], unique=True)

    op.create_table(
        "signing_keys",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("key_type", sa.String(length=16), nullable=False),
        sa.Column("public_multikey", sa.String(length=256), nullable=False),
        sa.Column("sealed_private", sa.JSON(), nullable=False),
        sa.Column("valid_from", issuer.db.UTCDateTime(), nullable=False),
        sa.Column("valid_until", issuer.db.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", issuer.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["tenants.lg_code"], name=op.f("fk_signing_keys_lg_code_tenants")
        ),
        sa.PrimaryKeyConstraint("lg_code", "key_id", name=op.f("pk_signing_keys")),
    )
    op.create_table(
        "status_lists",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("list_number", sa.Integer(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("bits", sa.LargeBinary(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("created_at", issuer.db.UTCDateTime(), nullable=False),
        sa.Column("published", sa.Text(), nullable=True),
        sa.Column("published_version", sa.Integer(), nullable=True),
        sa.Column("published_at", issuer.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["tenants.lg_code"], name=op.f("fk_status_lists_lg_code_tenants")
        ),
        sa.PrimaryKeyConstraint("lg_code", "purpose", "list_number", name=op.f("pk_status_lists")),
    )
    op.create_table(
        "status_entries",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("list_number", sa.Integer(), nullable=False),
        sa.Column("list_index", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["lg_code", "purpose", "list_number"],
            ["status_lists.lg_code", "status_lists.purpose", "status_lists.list_number"],
            name=op.f("fk_status_entries_lg_code_status_lists"),
        ),
        sa.PrimaryKeyConstraint(
            "lg_code", "purpose", "list_number", "list_index", name=op.f("pk_status_entries")
        ),
    )
    with op.batch_alter_table("status_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_status_entries_credential", ["lg_code", "credential_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("status_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_status_entries_credential")

    op.drop_table("status_entries")
    op.drop_table("status_lists")
    op.drop_table("signing_keys")
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.drop_index("ix_offers_token")
        batch_op.drop_index("ix_offers_code")

    op.drop_table("offers")
    op.drop_table("nonces")
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_index("ix_credentials_issued")

    op.drop_table("credentials")
    op.drop_table("audit_log")
    op.drop_table("audit_heads")
    op.drop_table("api_tokens")
    op.drop_table("tenants")
