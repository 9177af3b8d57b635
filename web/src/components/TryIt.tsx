// Try the model the way a program would: the request goes to /api/v1/predict with the model token.
import { useState, type FormEvent } from "react";
import { describeError, type Prediction } from "../api/client";
import { Bars } from "./Bars";
import { Dropzone } from "./Dropzone";
import { ErrorNote } from "./ErrorNote";

export function TryIt({ task, token }: { task: string; token: string }) {
  const [result, setResult] = useState<Prediction | null>(null);
  const [error, setError] = useState("");
  const [text, setText] = useState("");
  const [preview, setPreview] = useState("");

  const send = async (body: BodyInit, contentType?: string) => {
    setError("");
    setResult(null);
    const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
    if (contentType) headers["Content-Type"] = contentType;
    try {
      const response = await fetch("/api/v1/predict?top_k=5", { method: "POST", body, headers, credentials: "omit" });
      const data = await response.json().catch(() => null);
      if (response.ok) setResult(data as Prediction);
      else setError(response.status === 401 ? `Refused: ${describeError(data, response)}` : describeError(data, response));
    } catch (e) {
      setError(describeError(e));
    }
  };

  const onImage = (file: File) => {
    setPreview(URL.createObjectURL(file));
    const form = new FormData();
    form.append("file", file);
    send(form);
  };
  const onText = (e: FormEvent) => {
    e.preventDefault();
    if (text.trim()) send(JSON.stringify({ text }), "application/json");
  };

  return (
    <section className="card" data-testid="try-it">
      <h2>Try it</h2>
      {!token ? (
        <p className="muted">Create a token above to try the model here (this page keeps it only while open).</p>
      ) : task === "text" ? (
        <form onSubmit={onText} className="stack">
          <label>
            Text to classify
            <textarea rows={3} value={text} onChange={(e) => setText(e.target.value)} />
          </label>
          <button type="submit">Predict</button>
        </form>
      ) : (
        <Dropzone accept="image/*" onFile={onImage} label="Try an image: drop it or press Enter to choose one">
          <strong>Drop an image</strong> or click to choose one.
          {preview && <img className="try-preview" src={preview} alt="the image sent" />}
        </Dropzone>
      )}
      <ErrorNote message={error} />
      {result && (
        <Bars
          label="Prediction"
          rows={result.top_k.map((s) => ({ name: s.label, value: s.probability }))}
          format={(v) => `${(v * 100).toFixed(1)}%`}
        />
      )}
    </section>
  );
}
