// Skeleton web app: the three steps of the slice against the public API. Issue 7 replaces it.
const $ = (s) => document.querySelector(s);
const show = (el, v) => { $(el).textContent = typeof v === "string" ? v : JSON.stringify(v, null, 2); };
async function api(path, opts = {}) {
  const r = await fetch(path, opts);
  const body = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) throw new Error((body && body.error && body.error.message) || `HTTP ${r.status}`);
  return body;
}
async function loadDatasets() {
  const { items } = await api("/api/datasets");
  $("#dataset-select").innerHTML = items.map((d) => `<option value="${d.id}">${d.name} (${d.num_items} items)</option>`).join("");
}
$("#upload-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  show("#upload-result", "uploading…");
  try { const d = await api("/api/datasets", { method: "POST", body: new FormData(e.target) }); show("#upload-result", d); loadDatasets(); }
  catch (err) { show("#upload-result", err.message); }
});
$("#train-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  try {
    let run = await api("/api/runs", { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ dataset_id: f.get("dataset_id"), config: { mode: f.get("mode") } }) });
    while (["queued", "running"].includes(run.status)) {
      show("#run-status", { status: run.status, progress: run.progress });
      await new Promise((res) => setTimeout(res, 1000));
      run = await api(`/api/runs/${run.id}`);
    }
    if (run.status === "succeeded") {
      const t = await api(`/api/models/${run.model_id}/tokens`, { method: "POST" });
      show("#run-status", { status: run.status, val_accuracy: run.val_accuracy, model_id: run.model_id, token: t.token });
    } else show("#run-status", run);
  } catch (err) { show("#run-status", err.message); }
});
$("#predict-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const body = new FormData(); body.append("file", f.get("file"));
  try { show("#predict-result", await api("/api/predict", { method: "POST", body, headers: { authorization: `Bearer ${f.get("token")}` } })); }
  catch (err) { show("#predict-result", err.message); }
});
loadDatasets().catch(() => {});
