"""the maintenance switch; an index for the retention sweeper

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "maintenance_switch",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("retry_after_s", sa.Integer, nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_by", sa.String(64), nullable=True),
        sa.CheckConstraint("id = 1", name="ck_maintenance_switch_one_row"),
    )
    # The row is always there: turning the switch is an update, never a racing first insert.
    op.bulk_insert(
        sa.table("maintenance_switch", sa.column("id"), sa.column("enabled")), [{"id": 1, "enabled": False}]
    )
    op.create_index("ix_runs_status_finished_at", "runs", ["status", "finished_at"])


def downgrade() -> None:
    op.drop_index("ix_runs_status_finished_at", "runs")
    op.drop_table("maintenance_switch")
