from common.db import run_alembic_env
from gateway.users.models import Base

run_alembic_env(Base.metadata)
