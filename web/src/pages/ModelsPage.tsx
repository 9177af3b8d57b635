import { useEffect, useState } from "react";
import { api, describeError, type Model } from "../api/client";
import { ErrorNote } from "../components/ErrorNote";
import { Link } from "../router";

export function ModelsPage() {
  const [models, setModels] = useState<Model[] | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    api.GET("/api/v1/models", { params: { query: { limit: 100 } } }).then(({ data, error, response }) => {
      if (data) setModels(data.items);
      else setError(describeError(error, response));
    });
  }, []);
  return (
    <>
      <h1>Models</h1>
      <ErrorNote message={error} />
      {models && models.length === 0 && (
        <p className="empty">
          No models yet: a run that finishes makes one. <Link href="/runs/new">Start a run.</Link>
        </p>
      )}
      {models && models.length > 0 && (
        <ul className="list">
          {models.map((m) => (
            <li key={m.id}>
              <Link href={`/models/${m.id}`}>{m.name}</Link>
              <span className="muted">{m.classes.length} classes · {new Date(m.created_at).toLocaleString()}</span>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
