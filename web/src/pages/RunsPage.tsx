import { useEffect, useState } from "react";
import { api, describeError, type Run } from "../api/client";
import { ErrorNote } from "../components/ErrorNote";
import { Link } from "../router";

export function RunsPage() {
  const [runs, setRuns] = useState<Run[] | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    api.GET("/api/v1/runs", { params: { query: { limit: 100 } } }).then(({ data, error, response }) => {
      if (data) setRuns(data.items);
      else setError(describeError(error, response));
    });
  }, []);
  return (
    <>
      <h1>Runs</h1>
      <ErrorNote message={error} />
      {runs && runs.length === 0 && (
        <p className="empty">
          No runs yet. <Link href="/runs/new">Start one.</Link>
        </p>
      )}
      {runs && runs.length > 0 && (
        <ul className="list">
          {runs.map((r) => (
            <li key={r.id}>
              <Link href={`/runs/${r.id}`}>Run {r.id.slice(0, 8)}</Link>
              <span className="muted">{r.task} · {new Date(r.created_at).toLocaleString()}</span>
              <span className={`badge ${r.status}`}>
                {r.status}
                {r.val_accuracy != null ? ` · ${(r.val_accuracy * 100).toFixed(1)}%` : ""}
              </span>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
