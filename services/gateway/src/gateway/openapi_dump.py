"""Writes the platform's OpenAPI document (the gateway's /openapi.json) to a file.

`uv run python -m gateway.openapi_dump` rewrites `openapi.json` at the repository root; a test fails
when the file and the app disagree, and the web app's TypeScript client is generated from the file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gateway.main import create_app
from gateway.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[4]
OPENAPI_FILE = REPO_ROOT / "openapi.json"


def render() -> str:
    # Settings only shape what is served, never the document: defaults keep it the same on every machine.
    app = create_app(Settings(_env_file=None, environment="local"))
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OPENAPI_FILE)
    args = parser.parse_args()
    args.out.write_text(render())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
