from common.db import run_alembic_env
from dataset.datasets.models import Base

run_alembic_env(Base.metadata)
