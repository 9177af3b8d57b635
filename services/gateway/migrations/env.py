from common.db import run_alembic_env
from gateway.accounts.models import Base

run_alembic_env(Base.metadata)
