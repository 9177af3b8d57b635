import { useCallback, useEffect, useMemo, useState, type FormEvent } from "react";
import { api, describeError, type Dataset, type Schemas } from "../api/client";
import { CHOICES } from "../catalog";
import { ConfigFields, configValues } from "../components/ConfigFields";
import { ErrorNote } from "../components/ErrorNote";
import { Link, navigate } from "../router";

export function NewRunPage() {
  const [datasets, setDatasets] = useState<Dataset[] | null>(null);
  const [datasetId, setDatasetId] = useState(new URLSearchParams(window.location.search).get("dataset") ?? "");
  const [choiceId, setChoiceId] = useState("");
  const [values, setValues] = useState<Record<string, string>>({});
  const [valid, setValid] = useState(true);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api.GET("/api/v1/datasets", { params: { query: { limit: 100 } } }).then(({ data, error, response }) => {
      if (data) setDatasets(data.items.filter((d) => d.verdict !== "rejected"));
      else setError(describeError(error, response));
    });
  }, []);

  const dataset = datasets?.find((d) => d.id === datasetId);
  const choices = useMemo(() => CHOICES.filter((c) => c.task === dataset?.kind), [dataset]);
  useEffect(() => {
    if (choices.length && !choices.some((c) => c.id === choiceId)) setChoiceId(choices[0].id);
  }, [choices, choiceId]);
  const choice = choices.find((c) => c.id === choiceId);
  const onValidity = useCallback((ok: boolean) => setValid(ok), []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!dataset || !choice) return;
    setBusy(true);
    setError("");
    const body = {
      dataset_id: dataset.id,
      task: choice.task,
      config: { ...choice.config, ...configValues(values) },
    } as unknown as Schemas["RunCreate"];
    const { data, error, response } = await api.POST("/api/v1/runs", { body });
    setBusy(false);
    if (data) navigate(`/runs/${data.id}`);
    else setError(describeError(error, response));
  };

  if (datasets && datasets.length === 0)
    return (
      <>
        <h1>New run</h1>
        <p className="empty">
          There is no data set to train on yet. <Link href="/">Upload one first.</Link>
        </p>
      </>
    );
  return (
    <>
      <h1>New run</h1>
      <form className="stack" onSubmit={submit}>
        <label>
          Data set
          <select value={datasetId} onChange={(e) => setDatasetId(e.target.value)} required>
            <option value="">Choose a data set…</option>
            {(datasets ?? []).map((d) => (
              <option key={d.id} value={d.id}>
                {d.name} ({d.kind}, {d.num_items} items)
              </option>
            ))}
          </select>
        </label>
        {dataset && (
          <fieldset className="choices">
            <legend>Model</legend>
            {choices.map((c) => (
              <label key={c.id} className={`choice${c.id === choiceId ? " selected" : ""}`}>
                <input type="radio" name="model" value={c.id} checked={c.id === choiceId} onChange={() => { setChoiceId(c.id); setValues({}); }} />
                <span>
                  <strong>{c.title}</strong>
                  <span className="block">{c.explain}</span>
                  <span className="muted block">Expected time: {c.expected}</span>
                </span>
              </label>
            ))}
          </fieldset>
        )}
        {choice && (
          <details className="card">
            <summary>Advanced settings (defaults are filled in)</summary>
            <ConfigFields
              task={choice.task}
              values={values}
              onChange={(name, value) => setValues((v) => ({ ...v, [name]: value }))}
              onValidity={onValidity}
            />
          </details>
        )}
        <ErrorNote message={error} />
        <button type="submit" disabled={!choice || !valid || busy}>
          {busy ? "Starting…" : "Start training"}
        </button>
      </form>
    </>
  );
}
