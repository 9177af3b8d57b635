"""The web app's build stamp: a hash of everything the build reads, stored beside the built files.

`--check` exits 1 when the sources changed since the last build (then `make web` rebuilds, with Node);
`--write` records the current hash after a build. A clean clone has a matching stamp, so `make up` and
`make test` need no Node unless the web sources changed.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

WEB = Path(__file__).resolve().parent
ROOT = WEB.parent
STAMP = ROOT / "services/gateway/src/gateway/static/.source-hash"
INPUTS = ["index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json"]
TREES = ["src", "scripts", "public"]
VENDORED = {"swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"}  # copied from node_modules


def source_files() -> list[Path]:
    files = [WEB / name for name in INPUTS] + [ROOT / "openapi.json"]
    for tree in TREES:
        files += [p for p in (WEB / tree).rglob("*") if p.is_file() and p.name not in VENDORED]
    return sorted(files)


def source_hash() -> str:
    digest = hashlib.sha256()
    for path in source_files():
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
        digest.update(path.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--check", action="store_true")
    group.add_argument("--write", action="store_true")
    args = parser.parse_args()
    current = source_hash()
    if args.write:
        STAMP.write_text(current + "\n")
        return
    recorded = STAMP.read_text().strip() if STAMP.exists() else ""
    if recorded != current:
        print("the web app's sources changed since its last build: run `make web`", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
