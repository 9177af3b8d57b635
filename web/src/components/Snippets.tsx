// Ready-to-paste calls; the token is filled in only if one was just created on this page.
export function Snippets({ task, token }: { task: string; token: string }) {
  const origin = window.location.origin;
  const shown = token || "<model token>";
  const curl =
    task === "text"
      ? `curl -X POST ${origin}/api/v1/predict \\\n  -H "Authorization: Bearer ${shown}" \\\n  -H "Content-Type: application/json" \\\n  -d '{"text": "What is the capital of France?"}'`
      : `curl -X POST ${origin}/api/v1/predict \\\n  -H "Authorization: Bearer ${shown}" \\\n  -F file=@photo.jpg`;
  const python =
    task === "text"
      ? `import httpx\n\nanswer = httpx.post(\n    "${origin}/api/v1/predict",\n    headers={"Authorization": "Bearer ${shown}"},\n    json={"text": "What is the capital of France?"},\n)\nprint(answer.json()["top_k"])`
      : `import httpx\n\nwith open("photo.jpg", "rb") as f:\n    answer = httpx.post(\n        "${origin}/api/v1/predict",\n        headers={"Authorization": "Bearer ${shown}"},\n        files={"file": f},\n    )\nprint(answer.json()["top_k"])`;
  return (
    <section className="card">
      <h2>Call it from code</h2>
      <h3>curl</h3>
      <pre><code>{curl}</code></pre>
      <h3>Python</h3>
      <pre><code>{python}</code></pre>
    </section>
  );
}
