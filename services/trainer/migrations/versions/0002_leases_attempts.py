"""leases, attempts with their own tokens, idempotency keys

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("instance_id", sa.String(128), nullable=True))
        batch.add_column(sa.Column("idempotency_key", sa.String(128), nullable=True))
        batch.create_unique_constraint("uq_runs_owner_idempotency_key", ["owner", "idempotency_key"])
    op.create_index("ix_runs_status_lease", "runs", ["status", "lease_expires_at"])
    op.create_table(
        "run_attempts",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("instance_id", sa.String(128), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("executor", sa.String(32), nullable=False),
        sa.Column("executor_ref", sa.String(128), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("run_attempts")
    op.drop_index("ix_runs_status_lease", "runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint("uq_runs_owner_idempotency_key", type_="unique")
        batch.drop_column("idempotency_key")
        batch.drop_column("instance_id")
        batch.drop_column("lease_expires_at")
