"""the claim's index: queued runs in claim order

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Partial: only the queue's waiting rows, so a claim reads the oldest one at once instead of sorting
    # every queued run (and the index stays as small as the queue, whatever the history).
    op.create_index(
        "ix_runs_queued_created_at",
        "runs",
        ["created_at"],
        postgresql_where=sa.text("status = 'queued'"),
        sqlite_where=sa.text("status = 'queued'"),
    )


def downgrade() -> None:
    op.drop_index("ix_runs_queued_created_at", "runs")
