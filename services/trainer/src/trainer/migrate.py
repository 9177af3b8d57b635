"""``python -m trainer.migrate``: apply the trainer service's migrations once, before its servers start."""

from common.migrate import migrate_main

from trainer.main import MIGRATIONS
from trainer.settings import get_settings

if __name__ == "__main__":
    raise SystemExit(migrate_main(get_settings(), MIGRATIONS))
