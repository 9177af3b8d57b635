// A first-time user's journeys through the web app, in headless Chromium (Debian's, driven by
// playwright-core). Run by tests/e2e/test_browser.py, which starts the platform, passes a config file and
// reads the one JSON line this prints. Usage: node journey.mjs <config.json>
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { baseUrl, email, password, shots, viewport, journey } = config;
const started = Date.now();
const result = { journey, steps: [], errors: [] };

function step(name) {
  const at = (Date.now() - started) / 1000;
  result.steps.push({ name, at_s: at });
  console.error(`[journey ${journey}] ${name} at ${at.toFixed(1)} s`);
}

async function signIn(page, shot, { create }) {
  await page.goto(baseUrl);
  await page.getByRole("tab", { name: create ? "Create account" : "Sign in" }).click();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await shot("01-sign-in");
  await page.getByRole("button", { name: create ? "Create account" : "Sign in", exact: true }).click();
  await page.getByRole("heading", { name: "Data sets" }).waitFor();
  step(create ? "signed up" : "signed in");
}

async function upload(page, file) {
  await page.getByTestId("file-input").first().setInputFiles(file);
  await page.getByRole("region", { name: "Health report" }).waitFor({ timeout: 120_000 });
}

/** Polls the run page until the run ends; returns what the page showed on the way. */
async function watchRun(page, shot, timeoutMs) {
  const seen = new Set();
  const deadline = Date.now() + timeoutMs;
  let status = "";
  while (Date.now() < deadline) {
    status = await page.getByTestId("run-status").textContent();
    if (["succeeded", "failed", "cancelled"].includes(status)) break;
    const phase = await page.getByTestId("run-phase").textContent().catch(() => null);
    if (phase) seen.add(phase);
    // How the page follows the run: "stream" (its Server-Sent Events) or "polling" (the fallback).
    const live = await page.locator("section[data-live]").getAttribute("data-live", { timeout: 100 }).catch(() => null);
    if (live) seen.add(`live:${live}`);
    if (await page.getByTestId("run-counters").isVisible().catch(() => false)) {
      if (!seen.has("counters")) await shot("04-progress");
      seen.add("counters");
    }
    await page.waitForTimeout(250);
  }
  return { status, seen: [...seen] };
}

async function newToken(page) {
  await page.getByRole("button", { name: "Create a token" }).click();
  await page.getByTestId("new-token").waitFor();
}

async function predictImage(page) {
  await page.getByTestId("try-it").getByTestId("file-input").setInputFiles(config.flowerImage);
  const bars = page.getByTestId("try-it").getByRole("list", { name: "Prediction" });
  await bars.waitFor();
  return bars.locator(".bar-name").allTextContents();
}

async function revokeAndRetry(page) {
  await page.getByRole("button", { name: /^Revoke token/ }).first().click();
  await page.getByText("revoked", { exact: true }).waitFor();
  await page.getByTestId("try-it").getByTestId("file-input").setInputFiles(config.flowerImage);
  const refusal = page.getByTestId("try-it").getByRole("alert");
  await refusal.waitFor();
  return refusal.textContent();
}

// Sign up, upload flowers, read the report, check the advanced panel validates as typed, train, watch
// it, read curves/matrix/grids, predict in the try-it box, revoke the token, see the refusal.
async function desktop(page, shot) {
  await signIn(page, shot, { create: true });
  await upload(page, config.flowersZip);
  await page.getByText("Sample images").waitFor();
  await shot("02-report");
  step("uploaded flowers and read the report");

  await page.getByRole("link", { name: "Train a model on it" }).click();
  await page.getByRole("radio", { name: /Quick \(EfficientNet-Lite0/ }).waitFor();
  await page.getByText("Advanced settings").click();
  // Typed fields when the API describes the run config; else a JSON box. Either is checked as typed.
  const epochs = page.getByLabel("epochs", { exact: true });
  const field = epochs.or(page.getByLabel(/Settings as JSON/));
  await field.waitFor();
  const typed = (await epochs.count()) > 0;
  await field.fill(typed ? "0" : '{"epochs": ');
  await page.getByText(typed ? "At least 1." : /Not valid JSON/).waitFor();
  result.advancedValidation = await page.getByRole("button", { name: "Start training" }).isDisabled();
  await field.fill(typed ? "20" : '{"epochs": 20}');
  await shot("03-new-run");
  await page.getByRole("button", { name: "Start training" }).click();
  await page.getByTestId("run-status").waitFor();
  result.runUrl = page.url();
  step("started a quick run");

  const watched = await watchRun(page, shot, 300_000);
  result.phasesSeen = watched.seen;
  result.runStatus = watched.status;
  if (watched.status !== "succeeded") throw new Error(`run ended ${watched.status}`);
  await page.getByRole("img", { name: "Accuracy" }).waitFor();
  await page.getByRole("heading", { name: "Confusion matrix" }).waitFor();
  await page.getByTestId("grids").locator("img").first().waitFor();
  await shot("05-run-finished");
  step("watched the run finish; curves, matrix and grids shown");

  await page.getByRole("link", { name: "Use the model" }).click();
  await newToken(page);
  result.modelUrl = page.url();
  result.prediction = await predictImage(page);
  await shot("06-try-it");
  step("predicted an image in the try-it box");
  result.refusal = await revokeAndRetry(page);
  await shot("07-revoked");
  step("revoked the token; the prediction was refused");

  // Back on the run: leave out the first flagged image and retrain with the same settings.
  await page.goto(result.runUrl);
  const issues = page.getByTestId("data-issues");
  const first = issues.getByRole("checkbox").first();
  await first.check();
  result.leftOut = (await first.getAttribute("aria-label")).replace(/^leave out /, "");
  await issues.getByRole("button", { name: "Retrain without 1 image" }).click();
  await page.waitForURL((url) => url.href !== result.runUrl && url.pathname.startsWith("/runs/"));
  result.retrainUrl = page.url();
  const retrainId = new URL(result.retrainUrl).pathname.split("/").pop();
  const retrain = await page.evaluate(async (id) => (await fetch(`/api/v1/runs/${id}`)).json(), retrainId);
  result.retrainExclude = retrain.config.exclude;
  result.retrainStatus = (await watchRun(page, shot, 300_000)).status;
  await shot("08-retrained");
  step("left out a flagged image and retrained");
}

// The same account at phone width: sign in, a model's page, predict, revoke; then the run page.
async function phone(page, shot) {
  await signIn(page, shot, { create: false });
  await page.getByRole("link", { name: "Models" }).click();
  await page.locator(".list a").first().click();
  await newToken(page);
  result.prediction = await predictImage(page);
  await shot("06-try-it");
  step("predicted an image");
  result.refusal = await revokeAndRetry(page);
  await shot("07-revoked");
  await page.getByRole("link", { name: "Runs" }).click();
  await page.locator(".list a").first().click();
  await page.getByRole("img", { name: "Accuracy" }).waitFor();
  await page.getByTestId("grids").locator("img").first().waitFor();
  await shot("08-run-page");
  result.horizontalOverflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  step("read the run page at phone width");
}

// Texts: upload trec-6, train fastText, predict a typed question.
async function text(page, shot) {
  await signIn(page, shot, { create: false });
  await upload(page, config.textCsv);
  await page.getByText("Sample rows").waitFor();
  await shot("02-report");
  step("uploaded trec-6 and read the report");
  await page.getByRole("link", { name: "Train a model on it" }).click();
  await page.getByRole("radio", { name: /fastText/ }).check();
  // A few epochs keep the journey short; the defaults are for accuracy, not for a test.
  await page.getByText("Advanced settings").click();
  await page.getByLabel("epochs", { exact: true }).fill(String(config.textEpochs ?? 3));
  await page.getByRole("button", { name: "Start training" }).click();
  const watched = await watchRun(page, shot, 300_000);
  result.runStatus = watched.status;
  if (watched.status !== "succeeded") throw new Error(`text run ended ${watched.status}`);
  await shot("05-run-finished");
  step("trained a text model");
  await page.getByRole("link", { name: "Use the model" }).click();
  await newToken(page);
  await page.getByLabel("Text to classify").fill(config.question);
  await page.getByRole("button", { name: "Predict" }).click();
  const bars = page.getByTestId("try-it").getByRole("list", { name: "Prediction" });
  await bars.waitFor();
  result.prediction = await bars.locator(".bar-name").allTextContents();
  await shot("06-try-it");
  step("predicted a typed question");
}

const JOURNEYS = { desktop, phone, text };
const browser = await chromium.launch({
  executablePath: config.chromium,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const mobile = viewport.width < 600;
const context = await browser.newContext({ viewport, isMobile: mobile, hasTouch: mobile });
const page = await context.newPage();
page.setDefaultTimeout(30_000);
page.on("pageerror", (e) => result.errors.push(String(e)));
const shot = (name) => page.screenshot({ path: join(shots, `${journey}-${name}.png`), fullPage: true });
try {
  await JOURNEYS[journey](page, shot);
  result.ok = true;
} catch (e) {
  result.ok = false;
  result.error = String(e && e.stack ? e.stack : e);
  await shot("99-failure").catch(() => {});
} finally {
  await browser.close();
  result.seconds = (Date.now() - started) / 1000;
  console.log(JSON.stringify(result));
}
