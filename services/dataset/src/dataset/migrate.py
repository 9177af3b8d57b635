"""``python -m dataset.migrate``: apply the dataset service's migrations once, before its servers start."""

from common.migrate import migrate_main

from dataset.main import MIGRATIONS
from dataset.settings import get_settings

if __name__ == "__main__":
    raise SystemExit(migrate_main(get_settings(), MIGRATIONS))
