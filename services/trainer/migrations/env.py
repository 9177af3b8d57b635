from common.db import run_alembic_env
from trainer.runs.models import Base

run_alembic_env(Base.metadata)
