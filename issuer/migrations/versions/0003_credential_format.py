"""credential format

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 09:00:00.000000

The resident credential is issued in three formats (docs/formats.md): ``credentials.format``
says which (``ldp_vc``, ``jwt_vc_json``, ``dc+sd-jwt``); ``document`` holds the JSON text for
``ldp_vc`` and the compact string for the others.  Every credential issued before is ``ldp_vc``
(the server default fills the existing rows).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("format", sa.String(length=16), server_default="ldp_vc", nullable=False)
        )


def downgrade() -> None:
    # Before 0003 every document is JSON: a compact credential would be unreadable there.
    others = (
        op.get_bind()
        .execute(sa.text("SELECT count(*) FROM credentials WHERE format <> 'ldp_vc'"))
        .scalar_one()
    )
    if others:
        raise RuntimeError(
            f"{others} credentials are stored as jwt_vc_json or dc+sd-jwt; revision 0002 "
            "cannot hold them (revoke and delete them first)"
        )
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_column("format")
