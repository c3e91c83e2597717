"""premium registration

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 06:26:29.737570

Premium registration (issue 6): the person keys and their memberships (the 3-municipality
rule), applications, activity sites, activities and reviewed documents.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import issuer.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "premium_people",
        sa.Column("person_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", issuer.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("person_key", name=op.f("pk_premium_people")),
    )
    op.create_table(
        "activities",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("activity_id", sa.String(length=64), nullable=False),
        sa.Column("holder_did", sa.String(length=512), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=True),
        sa.Column("qr_id", sa.String(length=64), nullable=True),
        sa.Column("activity_date", issuer.db.UTCDateTime(), nullable=False),
        sa.Column("recorded_at", issuer.db.UTCDateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(length=128), nullable=False),
        sa.Column("credential_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["tenants.lg_code"], name=op.f("fk_activities_lg_code_tenants")
        ),
        sa.PrimaryKeyConstraint("lg_code", "activity_id", name=op.f("pk_activities")),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index(
            "ix_activities_holder", ["lg_code", "holder_did", "activity_date"], unique=False
        )
        batch_op.create_index(
            "uq_activities_checkin", ["lg_code", "qr_id", "holder_did"], unique=True
        )

    op.create_table(
        "activity_documents",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("document_id", sa.String(length=64), nullable=False),
        sa.Column("activity_id", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", issuer.db.UTCDateTime(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["tenants.lg_code"], name=op.f("fk_activity_documents_lg_code_tenants")
        ),
        sa.PrimaryKeyConstraint("lg_code", "document_id", name=op.f("pk_activity_documents")),
    )
    op.create_table(
        "activity_sites",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("radius_m", sa.Integer(), nullable=True),
        sa.Column("created_at", issuer.db.UTCDateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["tenants.lg_code"], name=op.f("fk_activity_sites_lg_code_tenants")
        ),
        sa.PrimaryKeyConstraint("lg_code", "site_id", name=op.f("pk_activity_sites")),
    )
    op.create_table(
        "premium_applications",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("application_id", sa.String(length=64), nullable=False),
        sa.Column("holder_did", sa.String(length=512), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", issuer.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", issuer.db.UTCDateTime(), nullable=False),
        sa.Column("status_hash", sa.String(length=64), nullable=False),
        sa.Column("login_hash", sa.String(length=64), nullable=True),
        sa.Column("session", sa.JSON(), nullable=True),
        sa.Column("person_key", sa.String(length=64), nullable=True),
        sa.Column("identity_method", sa.String(length=8), nullable=True),
        sa.Column("identity_at", issuer.db.UTCDateTime(), nullable=True),
        sa.Column("activities", sa.Integer(), nullable=False),
        sa.Column("decided_at", issuer.db.UTCDateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("offer_id", sa.String(length=64), nullable=True),
        sa.Column("replaces", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["tenants.lg_code"], name=op.f("fk_premium_applications_lg_code_tenants")
        ),
        sa.PrimaryKeyConstraint("lg_code", "application_id", name=op.f("pk_premium_applications")),
    )
    with op.batch_alter_table("premium_applications", schema=None) as batch_op:
        batch_op.create_index("ix_premium_applications_state", ["lg_code", "state"], unique=False)
        batch_op.create_index("ix_premium_applications_login", ["login_hash"], unique=False)
        batch_op.create_index("ix_premium_applications_person", ["person_key"], unique=False)

    op.create_table(
        "premium_memberships",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("person_key", sa.String(length=64), nullable=False),
        sa.Column("application_id", sa.String(length=64), nullable=False),
        sa.Column("credential_id", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("valid_until", issuer.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", issuer.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["tenants.lg_code"], name=op.f("fk_premium_memberships_lg_code_tenants")
        ),
        sa.PrimaryKeyConstraint("lg_code", "person_key", name=op.f("pk_premium_memberships")),
    )
    with op.batch_alter_table("premium_memberships", schema=None) as batch_op:
        batch_op.create_index("ix_premium_memberships_person", ["person_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("premium_memberships", schema=None) as batch_op:
        batch_op.drop_index("ix_premium_memberships_person")

    op.drop_table("premium_memberships")
    with op.batch_alter_table("premium_applications", schema=None) as batch_op:
        batch_op.drop_index("ix_premium_applications_person")
        batch_op.drop_index("ix_premium_applications_login")
        batch_op.drop_index("ix_premium_applications_state")

    op.drop_table("premium_applications")
    op.drop_table("activity_sites")
    op.drop_table("activity_documents")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index("uq_activities_checkin")
        batch_op.drop_index("ix_activities_holder")

    op.drop_table("activities")
    op.drop_table("premium_people")
