import { useEffect, useState } from "react";
import { api, describeError, type Run } from "../api/client";
import { ErrorNote } from "../components/ErrorNote";
import { LineChart } from "../components/LineChart";
import { RunResults } from "../components/RunResults";
import { Link } from "../router";

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
const PHASES: Record<string, string> = {
  queued: "Waiting for a worker",
  loading: "Loading the data set",
  features: "Computing features",
  probe: "Training the classifier head",
  training: "Training",
  export: "Exporting and checking the model",
  succeeded: "Done",
};

type Epoch = { epoch: number; epochs: number; train_loss: number; val_loss: number; train_acc: number; val_acc: number; seconds?: number; stage?: string };

function eta(history: Epoch[], last: Epoch | undefined): string {
  if (!last || !history.length) return "";
  const recent = history.slice(-5).map((h) => h.seconds ?? 0);
  const perEpoch = recent.reduce((a, b) => a + b, 0) / recent.length;
  const left = Math.max(0, last.epochs - last.epoch) * perEpoch;
  if (!perEpoch) return "";
  return left < 60 ? `about ${Math.max(1, Math.round(left))} s left` : `about ${Math.round(left / 60)} min left`;
}

export function RunPage({ id }: { id: string }) {
  const [run, setRun] = useState<Run | null>(null);
  const [error, setError] = useState("");

  useEffect(() => {
    let stop = false;
    let timer = 0;
    const poll = async () => {
      const { data, error, response } = await api.GET("/api/v1/runs/{run_id}", { params: { path: { run_id: id } } });
      if (stop) return;
      if (data) {
        setRun(data);
        setError("");
        if (TERMINAL.has(data.status)) return;
      } else if (response.status === 404) {
        setError("This run does not exist (or was deleted).");
        return;
      } else {
        setError(describeError(error, response));
      }
      timer = window.setTimeout(poll, 1000);
    };
    poll();
    return () => {
      stop = true;
      window.clearTimeout(timer);
    };
  }, [id]);

  const cancel = async () => {
    const { data, error, response } = await api.POST("/api/v1/runs/{run_id}/cancel", { params: { path: { run_id: id } } });
    if (data) setRun(data);
    else setError(describeError(error, response));
  };

  if (!run) return error ? <ErrorNote message={error} /> : <p aria-busy="true">Loading…</p>;
  const history = ((run.metrics as { history?: Epoch[] }).history ?? []).filter((h) => typeof h.epoch === "number");
  const progress = run.progress as { type?: string; phase?: string } & Partial<Epoch>;
  const last = history[history.length - 1];
  const phase = run.status === "queued" ? "queued" : progress.type === "epoch" ? "training" : progress.phase ?? progress.type ?? run.status;
  const running = !TERMINAL.has(run.status);
  const fraction = last ? last.epoch / last.epochs : 0;
  return (
    <>
      <h1>Run {run.id.slice(0, 8)}</h1>
      <p>
        <span className={`badge ${run.status}`} data-testid="run-status">{run.status}</span>{" "}
        <span className="muted">
          {run.task} · data set <Link href={`/datasets/${run.dataset_id}`}>{run.dataset_id.slice(0, 8)}</Link>
        </span>
      </p>
      <ErrorNote message={error} />
      {running && (
        <section className="card" aria-live="polite">
          <h2 data-testid="run-phase">{PHASES[phase] ?? phase}</h2>
          {last && (
            <>
              <progress max={1} value={fraction} aria-label="Training progress" />
              <p data-testid="run-counters">
                Epoch {last.epoch} of {last.epochs} · validation accuracy {(last.val_acc * 100).toFixed(1)}% ·{" "}
                {eta(history, last)}
              </p>
            </>
          )}
          <button type="button" className="danger" onClick={cancel}>Cancel run</button>
        </section>
      )}
      {run.status === "failed" && <ErrorNote message={`The run failed: ${run.error ?? "no reason given"}`} />}
      {run.status === "succeeded" && run.val_accuracy != null && (
        <p className="headline" data-testid="run-accuracy">
          Validation accuracy: <strong>{(run.val_accuracy * 100).toFixed(1)}%</strong>
          {run.model_id && (
            <>
              {" "}· <Link href={`/models/${run.model_id}`}>Use the model</Link>
            </>
          )}
        </p>
      )}
      {history.length > 0 && (
        <div className="charts">
          <LineChart
            title="Accuracy"
            yMax={1}
            series={[
              { name: "training", className: "s-train", points: history.map((h, i) => [i + 1, h.train_acc]) },
              { name: "validation", className: "s-val", points: history.map((h, i) => [i + 1, h.val_acc]) },
            ]}
          />
          <LineChart
            title="Loss"
            series={[
              { name: "training", className: "s-train", points: history.map((h, i) => [i + 1, h.train_loss]) },
              { name: "validation", className: "s-val", points: history.map((h, i) => [i + 1, h.val_loss]) },
            ]}
          />
        </div>
      )}
      {run.status === "succeeded" && <RunResults runId={run.id} />}
    </>
  );
}
