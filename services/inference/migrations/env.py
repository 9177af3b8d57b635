from alembic import context
from common.db import run_alembic_env
from inference.models.models import Base

# The app passes the URL and version table; these defaults serve the alembic CLI
# (`uv run alembic -c services/inference/alembic.ini ...`).
if not context.config.get_main_option("sqlalchemy.url"):
    from inference.settings import get_settings

    context.config.set_main_option("sqlalchemy.url", get_settings().resolved_database_url.replace("%", "%%"))
context.config.attributes.setdefault("version_table", "alembic_version_inference")

run_alembic_env(Base.metadata)
