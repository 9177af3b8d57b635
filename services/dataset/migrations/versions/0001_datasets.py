"""datasets

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("classes", sa.JSON, nullable=False),
        sa.Column("class_counts", sa.JSON, nullable=False),
        sa.Column("num_items", sa.Integer, nullable=False),
        sa.Column("val_fraction", sa.Float, nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("original_filename", sa.String(255), nullable=False),
        sa.Column("upload_key", sa.String(64), nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("original_key", sa.String(256), nullable=False),
        sa.Column("manifest_key", sa.String(256), nullable=False),
        sa.Column("pack_key", sa.String(256), nullable=True),
        sa.Column("preview_key", sa.String(256), nullable=False),
        sa.Column("report", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("owner", "upload_key", name="uq_datasets_owner_upload_key"),
    )
    op.create_index("ix_datasets_owner_created_at", "datasets", ["owner", "created_at"])


def downgrade() -> None:
    op.drop_table("datasets")
