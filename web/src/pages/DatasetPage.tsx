import { useEffect, useState } from "react";
import { api, describeError, type Dataset, type Schemas } from "../api/client";
import { ErrorNote } from "../components/ErrorNote";
import { Report } from "../components/Report";
import { Link, navigate } from "../router";
import { VERDICT } from "./DatasetsPage";

export function DatasetPage({ id }: { id: string }) {
  const [dataset, setDataset] = useState<Dataset | null>(null);
  const [preview, setPreview] = useState<Schemas["DatasetPreview"] | null>(null);
  const [error, setError] = useState("");

  useEffect(() => {
    const path = { dataset_id: id };
    api.GET("/api/v1/datasets/{dataset_id}", { params: { path } }).then(({ data, error, response }) => {
      if (data) setDataset(data);
      else setError(response.status === 404 ? "This data set does not exist (or was deleted)." : describeError(error, response));
    });
    api.GET("/api/v1/datasets/{dataset_id}/preview", { params: { path } }).then(({ data }) => data && setPreview(data));
  }, [id]);

  const remove = async () => {
    if (!dataset || !window.confirm(`Delete the data set “${dataset.name}” with every run trained on it and their models (their tokens stop working)?`)) return;
    const { error, response } = await api.DELETE("/api/v1/datasets/{dataset_id}", { params: { path: { dataset_id: id } } });
    if (response.ok) navigate("/");
    else setError(describeError(error, response));
  };

  if (error) return <ErrorNote message={error} />;
  if (!dataset) return <p aria-busy="true">Loading…</p>;
  return (
    <>
      <h1>{dataset.name}</h1>
      <p>
        <span className={`badge ${dataset.verdict}`}>{VERDICT[dataset.verdict]}</span>{" "}
        <span className="muted">
          {dataset.kind === "image" ? "Images" : "Texts"} · {dataset.classes.length} classes · {dataset.num_items} items ·{" "}
          {Math.round(dataset.val_fraction * 100)}% held out for validation
        </span>
      </p>
      <div className="actions">
        {dataset.verdict !== "rejected" && (
          <Link className="button" href={`/runs/new?dataset=${dataset.id}`}>Train a model on it</Link>
        )}
        <a className="button secondary" href={`/api/v1/datasets/${encodeURIComponent(dataset.id)}/download`}>Download original</a>
        <button type="button" className="danger" onClick={remove}>Delete</button>
      </div>
      <Report report={dataset.report ?? {}} />
      {preview && (
        <section className="card">
          <h2>{preview.kind === "image" ? "Sample images" : "Sample rows"}</h2>
          {Object.entries(preview.classes).map(([name, samples]) => (
            <div key={name} className="sample-class">
              <h3>{name}</h3>
              {preview.kind === "image" ? (
                <div className="thumbs">
                  {(samples as string[]).map((src, i) => (
                    <img key={i} src={src} alt={`${name} example ${i + 1}`} width={72} height={72} />
                  ))}
                </div>
              ) : (
                <ul className="rows">
                  {(samples as { source: string; text: string }[]).map((row, i) => (
                    <li key={i}>
                      <span className="muted">{row.source}</span> {row.text}
                    </li>
                  ))}
                </ul>
              )}
            </div>
          ))}
        </section>
      )}
    </>
  );
}
