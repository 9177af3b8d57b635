import { useCallback, useEffect, useState } from "react";
import { api, describeError, type Schemas } from "../api/client";
import { ErrorNote } from "../components/ErrorNote";
import { Snippets } from "../components/Snippets";
import { TryIt } from "../components/TryIt";
import { Link } from "../router";

type Token = Schemas["TokenInfo"];

export function ModelPage({ id }: { id: string }) {
  const [model, setModel] = useState<Schemas["ModelDetail"] | null>(null);
  const [tokens, setTokens] = useState<Token[]>([]);
  const [fresh, setFresh] = useState("");
  const [freshId, setFreshId] = useState("");
  const [copied, setCopied] = useState(false);
  const [error, setError] = useState("");
  const path = { model_id: id };

  const loadTokens = useCallback(async () => {
    const { data } = await api.GET("/api/v1/models/{model_id}/tokens", { params: { path: { model_id: id } } });
    if (data) setTokens(data);
  }, [id]);

  useEffect(() => {
    api.GET("/api/v1/models/{model_id}", { params: { path: { model_id: id } } }).then(({ data, error, response }) => {
      if (data) setModel(data);
      else setError(response.status === 404 ? "This model does not exist (or was deleted)." : describeError(error, response));
    });
    loadTokens();
  }, [id, loadTokens]);

  const createToken = async () => {
    const { data, error, response } = await api.POST("/api/v1/models/{model_id}/tokens", { params: { path } });
    if (data) {
      setFresh(data.token);
      setFreshId(data.id);
      setCopied(false);
      loadTokens();
    } else setError(describeError(error, response));
  };

  const revoke = async (token: Token) => {
    const { error, response } = await api.DELETE("/api/v1/models/{model_id}/tokens/{token_id}", {
      params: { path: { model_id: id, token_id: token.id } },
    });
    if (!response.ok) setError(describeError(error, response));
    loadTokens();
  };

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(fresh);
      setCopied(true);
    } catch {
      setError("Copying needs clipboard permission; select the token and copy it by hand.");
    }
  };

  if (!model) return error ? <ErrorNote message={error} /> : <p aria-busy="true">Loading…</p>;
  const card = model.card as Schemas["ModelCard"] & { task?: string };
  return (
    <>
      <h1>{model.name}</h1>
      <p className="muted">
        {card.task ?? "image"} classifier · {model.classes.length} classes ({model.classes.join(", ")}) · validation accuracy{" "}
        {(card.val_accuracy * 100).toFixed(1)}% · from <Link href={`/runs/${model.run_id}`}>run {model.run_id.slice(0, 8)}</Link>
      </p>
      <ErrorNote message={error} />
      <section className="card">
        <h2>Tokens</h2>
        <p className="muted">A token lets a program call this model, and nothing else. It is shown once.</p>
        {fresh && !tokens.some((t) => t.id === freshId && t.revoked) && (
          <div className="token" role="status">
            <code data-testid="new-token">{fresh}</code>
            <button type="button" onClick={copy}>{copied ? "Copied" : "Copy"}</button>
            <span className="muted block">Copy it now: it will not be shown again.</span>
          </div>
        )}
        <button type="button" onClick={createToken}>Create a token</button>
        {tokens.length > 0 && (
          <ul className="list">
            {tokens.map((t) => (
              <li key={t.id}>
                <code>{t.prefix}…</code>
                <span className="muted">created {new Date(t.created_at).toLocaleString()}</span>
                {t.revoked ? (
                  <span className="badge failed">revoked</span>
                ) : (
                  <button type="button" className="danger" onClick={() => revoke(t)} aria-label={`Revoke token ${t.prefix}`}>
                    Revoke
                  </button>
                )}
              </li>
            ))}
          </ul>
        )}
      </section>
      <TryIt task={card.task ?? "image"} token={fresh} />
      <Snippets task={card.task ?? "image"} token={fresh} />
    </>
  );
}
