"""``python -m gateway.migrate``: apply the gateway service's migrations once, before its servers start."""

from common.migrate import migrate_main

from gateway.main import MIGRATIONS
from gateway.settings import get_settings

if __name__ == "__main__":
    raise SystemExit(migrate_main(get_settings(), MIGRATIONS))
