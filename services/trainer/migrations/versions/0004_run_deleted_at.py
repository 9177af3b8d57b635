"""runs.deleted_at: a run being deleted is hidden from its owner before its objects go

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_runs_owner_dataset", "runs", ["owner", "dataset_id"])


def downgrade() -> None:
    op.drop_index("ix_runs_owner_dataset", "runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("deleted_at")
