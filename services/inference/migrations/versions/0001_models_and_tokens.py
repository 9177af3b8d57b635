"""models and model tokens

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
        "models",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("onnx_key", sa.String(512), nullable=False),
        sa.Column("card_key", sa.String(512), nullable=False),
        sa.Column("classes", sa.JSON, nullable=False),
        sa.Column("card", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_models"),
        sa.UniqueConstraint("owner", "run_id", name="uq_models_owner_run_id"),
    )
    op.create_index("ix_models_owner", "models", ["owner"])
    op.create_table(
        "model_tokens",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("model_id", sa.String(32), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_model_tokens"),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name="fk_model_tokens_model_id_models", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("token_hash", name="uq_model_tokens_token_hash"),
    )
    op.create_index("ix_model_tokens_model_id", "model_tokens", ["model_id"])
    op.create_index("ix_model_tokens_owner", "model_tokens", ["owner"])


def downgrade() -> None:
    op.drop_table("model_tokens")
    op.drop_table("models")
