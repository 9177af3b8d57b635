"""The web app's build is current: the committed assets were built from the committed sources, and the
TypeScript client was generated from the committed OpenAPI document."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"


def _source_hash_module():
    spec = importlib.util.spec_from_file_location("source_hash", WEB / "source_hash.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_built_assets_match_the_web_sources():
    module = _source_hash_module()
    recorded = module.STAMP.read_text().strip()
    assert recorded == module.source_hash(), "web sources changed since the last build: run `make web`"


def test_the_typescript_client_is_generated_from_the_checked_in_openapi_document(tmp_path):
    generator = WEB / "node_modules/.bin/openapi-typescript"
    assert generator.exists(), "run `make web-deps` (npm ci in web/) first"
    out = tmp_path / "schema.d.ts"
    subprocess.run([str(generator), str(ROOT / "openapi.json"), "-o", str(out)], check=True, cwd=WEB)
    committed = (WEB / "src/api/schema.d.ts").read_text()
    assert out.read_text() == committed, "stale TypeScript client: run `make web`"


def test_the_web_app_never_sets_inner_html():
    sources = [p for p in (WEB / "src").rglob("*.ts*") if p.is_file()]
    assert sources
    for path in sources:
        text = path.read_text()
        assert "dangerouslySetInnerHTML" not in text and "innerHTML" not in text, path
