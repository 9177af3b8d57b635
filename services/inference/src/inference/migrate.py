"""``python -m inference.migrate``: apply the inference service's migrations once, before its servers."""

from common.migrate import migrate_main

from inference.main import MIGRATIONS
from inference.settings import get_settings

if __name__ == "__main__":
    raise SystemExit(migrate_main(get_settings(), MIGRATIONS))
