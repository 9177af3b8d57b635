import { useEffect, useState } from "react";
import { api, describeError, uploadDataset, type Dataset } from "../api/client";
import { Dropzone } from "../components/Dropzone";
import { ErrorNote } from "../components/ErrorNote";
import { Report } from "../components/Report";
import { Link, navigate } from "../router";

export const VERDICT: Record<string, string> = {
  accepted: "Ready to train",
  accepted_with_warnings: "Ready, with warnings",
  rejected: "Rejected",
};

export function DatasetsPage() {
  const [items, setItems] = useState<Dataset[] | null>(null);
  const [error, setError] = useState("");
  const [progress, setProgress] = useState<number | null>(null);
  const [uploadError, setUploadError] = useState("");
  const [rejected, setRejected] = useState<unknown>(null);

  const load = async () => {
    const { data, error, response } = await api.GET("/api/v1/datasets", { params: { query: { limit: 100 } } });
    if (data) setItems(data.items);
    else setError(describeError(error, response));
  };
  useEffect(() => {
    load();
  }, []);

  const upload = async (file: File) => {
    setUploadError("");
    setRejected(null);
    setProgress(0);
    const form = new FormData();
    form.append("file", file);
    form.append("name", file.name.replace(/\.(zip|csv|tsv)$/i, ""));
    const result = await uploadDataset(form, setProgress);
    setProgress(null);
    if (result.ok) navigate(`/datasets/${result.dataset.id}`);
    else {
      setUploadError(result.message);
      setRejected(result.report ?? null);
    }
  };

  return (
    <>
      <h1>Data sets</h1>
      <Dropzone accept=".zip,.csv,.tsv" onFile={upload} label="Upload a data set: drop a file or press Enter to choose one">
        <strong>Drop a data set here</strong>, or click to choose a file.
        <span className="muted block">
          Images: a .zip with one folder per class. Texts: a .csv or .tsv with a text and a label column.
        </span>
      </Dropzone>
      {progress !== null && (
        <div className="progress-block">
          <progress max={1} value={progress} aria-label="Upload progress" />
          <span>{progress < 1 ? `Uploading… ${Math.round(progress * 100)}%` : "Checking the data set…"}</span>
        </div>
      )}
      <ErrorNote message={uploadError} />
      {rejected ? <Report report={rejected as Record<string, unknown>} /> : null}
      <ErrorNote message={error} />
      {items && items.length === 0 && (
        <p className="empty">No data sets yet. Upload one above to train your first model.</p>
      )}
      {items && items.length > 0 && (
        <ul className="list">
          {items.map((d) => (
            <li key={d.id}>
              <Link href={`/datasets/${d.id}`}>{d.name}</Link>
              <span className="muted">
                {d.kind} · {d.classes.length} classes · {d.num_items} items
              </span>
              <span className={`badge ${d.verdict}`}>{VERDICT[d.verdict] ?? d.verdict}</span>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
