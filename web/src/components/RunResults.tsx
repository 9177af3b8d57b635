// What a finished run wrote: confusion matrix, per-class scores, example grids or texts, flagged label
// issues, and the downloads. Each part shows only when the run produced it.
import { useEffect, useState } from "react";
import { api, describeError, type Run, type Schemas } from "../api/client";
import { navigate } from "../router";
import { ErrorNote } from "./ErrorNote";

type PerClass = Record<string, { precision?: number; recall?: number; f1?: number; support?: number }>;
type Matrix = { classes: string[]; matrix: number[][] };
type DataIssue = { source: string; kind: string; label: string; looks_like?: string | null; score?: number; detail?: string };
type DataIssues = { how_to_use?: string; counts?: Record<string, number>; issues?: DataIssue[] };

function artifactUrl(runId: string, name: string) {
  return `/api/v1/runs/${encodeURIComponent(runId)}/artifacts/${encodeURIComponent(name)}`;
}

async function json<T>(runId: string, name: string): Promise<T | null> {
  const response = await fetch(artifactUrl(runId, name));
  return response.ok ? ((await response.json()) as T) : null;
}

const pct = (v: number | undefined) => (v == null ? "–" : `${(v * 100).toFixed(1)}%`);
const DOWNLOADS: Record<string, string> = {
  "model.onnx": "ONNX model",
  "model.pt": "PyTorch weights",
  "model_card.json": "Model card",
  "metrics.json": "Metrics",
};

// Retrain with the same settings, leaving out the flagged images a person ticked (nothing is left out
// unless they ask).
function RetrainWithout({ run, sources }: { run: Run; sources: string[] }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const retrain = async () => {
    setBusy(true);
    setError("");
    const config = run.config as { exclude?: string[] };
    const body = {
      dataset_id: run.dataset_id,
      task: run.task,
      config: { ...config, exclude: [...new Set([...(config.exclude ?? []), ...sources])] },
    } as unknown as Schemas["RunCreate"];
    const { data, error, response } = await api.POST("/api/v1/runs", { body });
    setBusy(false);
    if (data) navigate(`/runs/${data.id}`);
    else setError(describeError(error, response));
  };
  const n = sources.length;
  return (
    <>
      <button type="button" disabled={busy || n === 0} onClick={retrain}>
        {n === 0 ? "Tick images to leave out" : `Retrain without ${n} image${n === 1 ? "" : "s"}`}
      </button>
      <ErrorNote message={error} />
    </>
  );
}

export function RunResults({ run }: { run: Run }) {
  const runId = run.id;
  const [leaveOut, setLeaveOut] = useState<string[]>([]);
  const toggle = (source: string, on: boolean) =>
    setLeaveOut((list) => (on ? [...list, source] : list.filter((s) => s !== source)));
  const [names, setNames] = useState<string[]>([]);
  const [matrix, setMatrix] = useState<Matrix | null>(null);
  const [perClass, setPerClass] = useState<PerClass | null>(null);
  const [issues, setIssues] = useState<DataIssues | null>(null);
  const [examples, setExamples] = useState<Record<string, unknown[]> | null>(null);

  useEffect(() => {
    api.GET("/api/v1/runs/{run_id}/artifacts", { params: { path: { run_id: runId } } }).then(({ data }) => {
      const list = data?.items.map((a) => a.name) ?? [];
      setNames(list);
      if (list.includes("confusion_matrix.json")) json<Matrix>(runId, "confusion_matrix.json").then(setMatrix);
      if (list.includes("per_class.json")) json<PerClass>(runId, "per_class.json").then(setPerClass);
      if (list.includes("data_issues.json")) json<DataIssues>(runId, "data_issues.json").then(setIssues);
      if (list.includes("examples.json")) json<Record<string, unknown[]>>(runId, "examples.json").then(setExamples);
    });
  }, [runId]);

  const grids = names.filter((n) => n.startsWith("grid_") && n.endsWith(".png"));
  return (
    <>
      {matrix && (
        <section className="card">
          <h2>Confusion matrix</h2>
          <p className="muted">Rows: the true class. Columns: what the model said. The diagonal is right.</p>
          <div className="scroll">
            <table className="matrix">
              <thead>
                <tr>
                  <th scope="col">true \ predicted</th>
                  {matrix.classes.map((c) => <th key={c} scope="col">{c}</th>)}
                </tr>
              </thead>
              <tbody>
                {matrix.matrix.map((row, i) => (
                  <tr key={i}>
                    <th scope="row">{matrix.classes[i]}</th>
                    {row.map((v, j) => (
                      <td key={j} className={i === j ? "diag" : v > 0 ? "off" : ""}>{v}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
      {perClass && (
        <section className="card">
          <h2>Per class</h2>
          <div className="scroll">
          <table>
            <thead>
              <tr><th scope="col">class</th><th scope="col">precision</th><th scope="col">recall</th><th scope="col">F1</th><th scope="col">examples</th></tr>
            </thead>
            <tbody>
              {Object.entries(perClass).map(([name, s]) => (
                <tr key={name}>
                  <th scope="row">{name}</th><td>{pct(s.precision)}</td><td>{pct(s.recall)}</td><td>{pct(s.f1)}</td><td>{s.support ?? "–"}</td>
                </tr>
              ))}
            </tbody>
          </table>
          </div>
        </section>
      )}
      {grids.length > 0 && (
        <section className="card" data-testid="grids">
          <h2>Validation examples</h2>
          <div className="grids">
            {grids.map((g) => (
              <figure key={g}>
                <figcaption>{g.includes("incorrect") ? "What it got wrong" : "What it got right"}</figcaption>
                <img src={artifactUrl(runId, g)} alt={g.includes("incorrect") ? "validation images the model got wrong" : "validation images the model got right"} />
              </figure>
            ))}
          </div>
        </section>
      )}
      {examples && (
        <section className="card" data-testid="grids">
          <h2>Validation examples</h2>
          {Object.entries(examples).map(([group, rows]) => (
            <div key={group}>
              <h3>{group.replaceAll("_", " ")}</h3>
              <ul className="rows">
                {rows.slice(0, 12).map((r, i) => {
                  const row = r as { text?: string; label?: string; predicted?: string };
                  return (
                    <li key={i}>
                      {row.text} <span className="muted">(true: {row.label}, said: {row.predicted})</span>
                    </li>
                  );
                })}
              </ul>
            </div>
          ))}
        </section>
      )}
      {issues && (
        <section className="card" data-testid="data-issues">
          <h2>Images worth a second look</h2>
          {(issues.issues ?? []).length === 0 ? (
            <p>None flagged: no image looks mislabelled, blank, like a placeholder or far from its class.</p>
          ) : (
            <>
              {issues.how_to_use && <p className="muted">{issues.how_to_use}</p>}
              {names.includes("data_issues.png") && (
                <img className="issues-grid" src={artifactUrl(runId, "data_issues.png")} alt="thumbnails of the flagged images" />
              )}
              <ul className="rows">
                {(issues.issues ?? []).slice(0, 50).map((it, i) => (
                  <li key={i}>
                    <label>
                      <input
                        type="checkbox"
                        checked={leaveOut.includes(it.source)}
                        onChange={(e) => toggle(it.source, e.target.checked)}
                        aria-label={`leave out ${it.source}`}
                      />{" "}
                      <code>{it.source}</code>
                    </label>{" "}
                    labelled <strong>{it.label}</strong>: {it.kind}
                    {it.looks_like ? <>, looks like <strong>{it.looks_like}</strong></> : null}
                    {it.detail ? <span className="muted"> ({it.detail})</span> : null}
                  </li>
                ))}
              </ul>
              <RetrainWithout run={run} sources={leaveOut} />
            </>
          )}
        </section>
      )}
      <section className="card">
        <h2>Downloads</h2>
        <ul className="downloads">
          {names.filter((n) => DOWNLOADS[n]).map((n) => (
            <li key={n}><a href={artifactUrl(runId, n)} download>{DOWNLOADS[n]} ({n})</a></li>
          ))}
        </ul>
      </section>
    </>
  );
}
