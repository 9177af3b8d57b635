// A first-time user's journey through the web app, in headless Chromium (Debian's, driven by
// playwright-core). Run by tests/e2e/test_browser.py, which starts the platform and reads the JSON
// this prints. Usage: node journey.mjs <config.json>
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { baseUrl, email, password, shots, viewport, flowersZip, flowerImage, journey } = config;
const steps = [];
const started = Date.now();

function step(name) {
  steps.push({ name, at_s: (Date.now() - started) / 1000 });
  console.error(`[journey ${journey}] ${name} at ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

const browser = await chromium.launch({
  executablePath: config.chromium,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const context = await browser.newContext({ viewport, isMobile: viewport.width < 600, hasTouch: viewport.width < 600 });
const page = await context.newPage();
page.setDefaultTimeout(30_000);
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));
const shot = (name) => page.screenshot({ path: join(shots, `${journey}-${name}.png`), fullPage: true });
const result = { journey, steps, errors };

try {
  await page.goto(baseUrl);
  if (journey === "desktop") {
    await page.getByRole("tab", { name: "Create account" }).click();
  }
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await shot("01-sign-in");
  await page.getByRole("button", { name: journey === "desktop" ? "Create account" : "Sign in", exact: true }).click();
  await page.getByRole("heading", { name: "Data sets" }).waitFor();
  step("signed in");

  if (journey === "desktop") {
    await page.getByTestId("file-input").first().setInputFiles(flowersZip);
    await page.getByRole("region", { name: "Health report" }).waitFor({ timeout: 120_000 });
    await page.getByText("Sample images").waitFor();
    result.datasetUrl = page.url();
    await shot("02-report");
    step("uploaded flowers and read the report");

    await page.getByRole("link", { name: "Train a model on it" }).click();
    await page.getByRole("radio", { name: /Quick/ }).waitFor();
    await page.getByText("Advanced settings").click();
    // Typed fields when the API describes the run config; else a JSON box. Either is checked as typed.
    const field = page.getByLabel("epochs", { exact: true }).or(page.getByLabel(/Settings as JSON/));
    await field.waitFor();
    const typed = (await page.getByLabel("epochs", { exact: true }).count()) > 0;
    await field.fill(typed ? "0" : '{"epochs": ');
    await page.getByText(typed ? "At least 1." : /Not valid JSON/).waitFor();
    result.advancedValidation = await page.getByRole("button", { name: "Start training" }).isDisabled();
    await field.fill(typed ? "" : '{"epochs": 20}');
    await shot("03-new-run");
    await page.getByRole("button", { name: "Start training" }).click();
    await page.getByTestId("run-status").waitFor();
    result.runUrl = page.url();
    step("started a quick run");
    const seen = new Set();
    const deadline = Date.now() + 240_000;
    while (Date.now() < deadline) {
      const status = await page.getByTestId("run-status").textContent();
      if (["succeeded", "failed", "cancelled"].includes(status)) break;
      const phase = await page.getByTestId("run-phase").textContent().catch(() => null);
      if (phase) seen.add(phase);
      if (await page.getByTestId("run-counters").isVisible().catch(() => false)) {
        seen.add("counters");
        if (!result.progressShot) {
          await shot("04-progress");
          result.progressShot = true;
        }
      }
      await page.waitForTimeout(250);
    }
    result.phasesSeen = [...seen];
    result.runStatus = await page.getByTestId("run-status").textContent();
    if (result.runStatus !== "succeeded") throw new Error(`run ended ${result.runStatus}`);
    await page.getByRole("img", { name: "Accuracy" }).waitFor();
    await page.getByTestId("grids").locator("img").first().waitFor();
    await page.getByRole("heading", { name: "Confusion matrix" }).waitFor();
    result.accuracyText = await page.getByTestId("run-accuracy").textContent();
    await shot("05-run-finished");
    step("watched the run finish; curves and grids shown");

    await page.getByRole("link", { name: "Use the model" }).click();
    await page.getByRole("button", { name: "Create a token" }).click();
    await page.getByTestId("new-token").waitFor();
    result.modelUrl = page.url();
  } else {
    await page.getByRole("link", { name: "Models" }).click();
    await page.locator(".list a").first().click();
    await page.getByRole("button", { name: "Create a token" }).click();
    await page.getByTestId("new-token").waitFor();
  }

  await page.getByTestId("try-it").getByTestId("file-input").setInputFiles(flowerImage);
  const bars = page.getByTestId("try-it").getByRole("list", { name: "Prediction" });
  await bars.waitFor();
  result.prediction = await bars.locator(".bar-name").allTextContents();
  await shot("06-try-it");
  step("predicted an image in the try-it box");

  await page.getByRole("button", { name: /^Revoke token/ }).first().click();
  await page.getByText("revoked", { exact: true }).waitFor();
  await page.getByTestId("try-it").getByTestId("file-input").setInputFiles(flowerImage);
  const refusal = page.getByTestId("try-it").getByRole("alert");
  await refusal.waitFor();
  result.refusal = await refusal.textContent();
  await shot("07-revoked");
  step("revoked the token; the prediction was refused");

  if (journey === "phone") {
    await page.getByRole("link", { name: "Runs" }).click();
    await page.locator(".list a").first().click();
    await page.getByRole("img", { name: "Accuracy" }).waitFor();
    await page.getByTestId("grids").locator("img").first().waitFor();
    await shot("08-run-page");
    result.horizontalOverflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
    step("read the run page at phone width");
  }
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
