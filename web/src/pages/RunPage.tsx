import { api, describeError } from "../api/client";
import { ErrorNote } from "../components/ErrorNote";
import { LineChart } from "../components/LineChart";
import { RunResults } from "../components/RunResults";
import { Link } from "../router";
import { TERMINAL, useLiveRun, type Epoch } from "./liveRun";

const PHASES: Record<string, string> = {
  queued: "Waiting for a worker",
  starting: "Starting a worker",
  loading: "Loading the data set",
  features: "Computing features",
  probe: "Training the classifier head",
  training: "Training",
  kept_best: "Keeping the best epoch",
  export: "Exporting and checking the model",
  artifacts: "Writing the report and the model files",
  finished: "Done",
};

type Metric = "train_acc" | "val_acc" | "train_loss" | "val_loss";

/** (epoch number, value) of the epochs that have the metric (a probe's epoch 0 has no training side). */
function points(history: Epoch[], metric: Metric): [number, number][] {
  return history.flatMap((h, i): [number, number][] => (h[metric] != null ? [[i + 1, h[metric]]] : []));
}

function eta(seconds: number | null | undefined): string {
  if (seconds == null) return "";
  return seconds < 60 ? `about ${Math.max(1, Math.round(seconds))} s left` : `about ${Math.round(seconds / 60)} min left`;
}

export function RunPage({ id }: { id: string }) {
  const { run, setRun, error, setError, source, lastLog } = useLiveRun(id);

  const cancel = async () => {
    const { data, error, response } = await api.POST("/api/v1/runs/{run_id}/cancel", { params: { path: { run_id: id } } });
    if (data) setRun(data);
    else setError(describeError(error, response));
  };

  if (!run) return error ? <ErrorNote message={error} /> : <p aria-busy="true">Loading…</p>;
  const history = ((run.metrics as { history?: Epoch[] }).history ?? []).filter((h) => typeof h.epoch === "number");
  const phase = run.phase ?? run.status;
  const running = !TERMINAL.has(run.status);
  const counter = run.progress;
  const latest = run.latest_metrics?.type === "epoch" ? run.latest_metrics : undefined;
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
        <section className="card" aria-live="polite" data-live={source}>
          <h2 data-testid="run-phase">{PHASES[phase] ?? phase}</h2>
          {counter && (
            <>
              <progress max={counter.total || 1} value={counter.done} aria-label={`${PHASES[phase] ?? phase}: progress`} />
              <p data-testid="run-counters">
                {counter.done} of {counter.total} {counter.unit}
                {latest?.val_acc != null && <> · validation accuracy {(latest.val_acc * 100).toFixed(1)}%</>}
                {run.eta_s != null && <> · {eta(run.eta_s)}</>}
                {run.queue_position != null && <> · {run.queue_position === 1 ? "next in the queue" : `number ${run.queue_position} in the queue`}</>}
              </p>
            </>
          )}
          {lastLog && <p className="muted" data-testid="run-log">{lastLog}</p>}
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
              { name: "training", className: "s-train", points: points(history, "train_acc") },
              { name: "validation", className: "s-val", points: points(history, "val_acc") },
            ]}
          />
          <LineChart
            title="Loss"
            series={[
              { name: "training", className: "s-train", points: points(history, "train_loss") },
              { name: "validation", className: "s-val", points: points(history, "val_loss") },
            ]}
          />
        </div>
      )}
      {run.status === "succeeded" && <RunResults run={run} />}
    </>
  );
}
