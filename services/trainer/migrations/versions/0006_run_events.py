"""run events (the live stream, the logs tail) and the live progress of a run

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("event_seq", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("phase", sa.String(16), nullable=True))
        batch.add_column(sa.Column("phase_started_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("counter", sa.JSON, nullable=True))
        batch.add_column(sa.Column("latest_epoch", sa.JSON, nullable=True))
    op.create_table(
        "run_events",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("run_events")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("latest_epoch")
        batch.drop_column("counter")
        batch.drop_column("phase_started_at")
        batch.drop_column("phase")
        batch.drop_column("event_seq")
