import trainer.admin.models  # noqa: F401 - its table is in the same metadata
from common.db import run_alembic_env
from trainer.runs.models import Base

run_alembic_env(Base.metadata)
