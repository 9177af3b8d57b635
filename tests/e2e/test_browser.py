"""The web app as a first-time user meets it, in headless Chromium on the embedded platform in multi-user
mode: sign up, upload, read the report, train, watch progress, see curves and grids, predict in the try-it
box, revoke the token and see the prediction refused; then the same account at phone width; then a text
model: upload trec-6, train, predict a typed question.

Screenshots land in test-results/browser/ (kept as CI artifacts). The journey itself is
web/e2e/journey.mjs (npm playwright-core driving Debian's chromium; `make test` installs both)."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-results" / "browser"
DATA = ROOT.parent / "shared" / "data"
JOURNEY = ROOT / "web" / "e2e" / "journey.mjs"
EMAIL, PASSWORD = "first.user@example.com", "a long enough password"


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "Debian's chromium is missing: `make test-deps` installs it"
    return path


def run_journey(tmp_path: Path, **config) -> dict:
    SHOTS.mkdir(parents=True, exist_ok=True)
    config_file = tmp_path / f"{config['journey']}.json"
    config_file.write_text(json.dumps({"chromium": chromium(), "shots": str(SHOTS), **config}))
    done = subprocess.run(
        ["node", str(JOURNEY), str(config_file)],
        cwd=ROOT / "web",
        capture_output=True,
        text=True,
        timeout=420,
    )
    assert done.stdout.strip(), f"the journey printed nothing:\n{done.stderr[-4000:]}"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["ok"], f"{result.get('error')}\n{done.stderr[-3000:]}"
    assert result["errors"] == [], "the page threw errors"
    return result


@pytest.fixture(scope="module")
def flower_image(tmp_path_factory) -> Path:
    with zipfile.ZipFile(DATA / "flowers-5x100.zip") as archive:
        name = next(n for n in archive.namelist() if n.lower().endswith((".jpg", ".jpeg")))
        out = tmp_path_factory.mktemp("flower") / "flower.jpg"
        out.write_bytes(archive.read(name))
    return out


@pytest.fixture(scope="module")
def desktop(multi_stack, flower_image, tmp_path_factory) -> dict:
    return run_journey(
        tmp_path_factory.mktemp("desktop"),
        journey="desktop",
        baseUrl=multi_stack.gateway_url,
        email=EMAIL,
        password=PASSWORD,
        viewport={"width": 1280, "height": 900},
        flowersZip=str(DATA / "flowers-5x100.zip"),
        flowerImage=str(flower_image),
    )


def test_first_user_journey_from_sign_up_to_a_refused_prediction(desktop):
    assert "/runs/" in desktop["runUrl"] and "/models/" in desktop["modelUrl"]
    assert desktop["advancedValidation"] is True  # epochs 0 disabled the start button as it was typed
    assert "counters" in desktop["phasesSeen"], desktop["phasesSeen"]  # live counters were shown
    assert "live:stream" in desktop["phasesSeen"], desktop["phasesSeen"]  # from the event stream, not polling
    assert "live:polling" not in desktop["phasesSeen"], desktop["phasesSeen"]
    # Ticking a flagged image and "Retrain without 1 image" starts a run that leaves exactly it out.
    assert desktop["retrainUrl"] != desktop["runUrl"] and "/runs/" in desktop["retrainUrl"]
    assert desktop["retrainExclude"] == [desktop["leftOut"]] and desktop["leftOut"].startswith("flowers/")
    assert desktop["retrainStatus"] == "succeeded"
    assert desktop["runStatus"] == "succeeded"
    assert len(desktop["prediction"]) == 5
    assert "Refused" in desktop["refusal"]
    for name in ("01-sign-in", "02-report", "04-progress", "05-run-finished", "06-try-it", "07-revoked"):
        assert (SHOTS / f"desktop-{name}.png").stat().st_size > 10_000, name


def test_the_same_account_at_phone_width(desktop, multi_stack, flower_image, tmp_path_factory):
    phone = run_journey(
        tmp_path_factory.mktemp("phone"),
        journey="phone",
        baseUrl=multi_stack.gateway_url,
        email=EMAIL,
        password=PASSWORD,
        viewport={"width": 390, "height": 844},
        flowerImage=str(flower_image),
    )
    assert len(phone["prediction"]) == 5
    assert "Refused" in phone["refusal"]
    assert phone["horizontalOverflow"] is False


def test_a_text_model_from_csv_to_a_typed_question(desktop, multi_stack, tmp_path_factory):
    text = run_journey(
        tmp_path_factory.mktemp("text"),
        journey="text",
        baseUrl=multi_stack.gateway_url,
        email=EMAIL,
        password=PASSWORD,
        viewport={"width": 1280, "height": 900},
        textCsv=str(DATA / "trec-6.csv"),
        question="What is the capital of Australia?",
    )
    assert text["runStatus"] == "succeeded"
    assert len(text["prediction"]) == 5
    for name in ("02-report", "05-run-finished", "06-try-it"):
        assert (SHOTS / f"text-{name}.png").stat().st_size > 10_000, name
