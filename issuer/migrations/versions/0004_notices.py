"""notices

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10 09:00:00.000000

Notices and 手を挙げる (issue 8, docs/notices.md): a municipality's notices (topic, title and
body in Japanese with optional English, an https link, the tiers they are for; calls for help
with their places and deadline) and the hands raised for calls.  ``notice_responses`` keys its
tenant as ``tenant_id`` (the lgCode); a partial unique index keeps one answer per registration
and call that is not withdrawn.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import issuer.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("notice_id", sa.String(length=32), nullable=False),
        sa.Column("topic", sa.String(length=16), nullable=False),
        sa.Column("title_ja", sa.String(length=200), nullable=False),
        sa.Column("title_en", sa.String(length=200), nullable=True),
        sa.Column("body_ja", sa.Text(), nullable=False),
        sa.Column("body_en", sa.Text(), nullable=True),
        sa.Column("link", sa.String(length=2048), nullable=True),
        sa.Column("audience", sa.String(length=8), nullable=False),
        sa.Column("published_at", issuer.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", issuer.db.UTCDateTime(), nullable=True),
        sa.Column("places", sa.Integer(), nullable=True),
        sa.Column("deadline", issuer.db.UTCDateTime(), nullable=True),
        sa.Column("closed_at", issuer.db.UTCDateTime(), nullable=True),
        sa.Column("withdrawn_at", issuer.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", issuer.db.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("updated_at", issuer.db.UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["tenants.lg_code"], name=op.f("fk_notices_lg_code_tenants")
        ),
        sa.PrimaryKeyConstraint("lg_code", "notice_id", name=op.f("pk_notices")),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notices_feed", ["lg_code", "published_at", "notice_id"], unique=False
        )

    op.create_table(
        "notice_responses",
        sa.Column("tenant_id", sa.String(length=6), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("notice_id", sa.String(length=32), nullable=False),
        sa.Column("holder_did", sa.String(length=512), nullable=False),
        sa.Column("credential_id", sa.String(length=64), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_at", issuer.db.UTCDateTime(), nullable=False),
        sa.Column("withdrawn_at", issuer.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "notice_id"],
            ["notices.lg_code", "notices.notice_id"],
            name=op.f("fk_notice_responses_tenant_id_notices"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.lg_code"], name=op.f("fk_notice_responses_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_notice_responses")),
    )
    with op.batch_alter_table("notice_responses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notice_responses_notice", ["tenant_id", "notice_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_notice_responses_created", ["tenant_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "uq_notice_responses_active",
            ["tenant_id", "notice_id", "holder_did"],
            unique=True,
            sqlite_where=sa.text("withdrawn_at IS NULL"),
            postgresql_where=sa.text("withdrawn_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("notice_responses", schema=None) as batch_op:
        batch_op.drop_index("uq_notice_responses_active")
        batch_op.drop_index("ix_notice_responses_created")
        batch_op.drop_index("ix_notice_responses_notice")

    op.drop_table("notice_responses")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index("ix_notices_feed")

    op.drop_table("notices")
