import { useState, type FormEvent } from "react";
import { api, describeError } from "../api/client";
import { ErrorNote } from "../components/ErrorNote";

export function SignInPage({ onSignedIn }: { onSignedIn: () => void }) {
  const [mode, setMode] = useState<"login" | "signup">("login");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    const body = { email, password };
    const result =
      mode === "signup"
        ? await api.POST("/api/v1/auth/signup", { body })
        : await api.POST("/api/v1/auth/login", { body });
    setBusy(false);
    if (result.data) onSignedIn();
    else setError(describeError(result.error, result.response));
  };

  const tooShort = mode === "signup" && password.length > 0 && password.length < 10;
  return (
    <main className="page narrow">
      <h1>Trainyard</h1>
      <p className="muted">Train an image or text classifier on your own labelled data, then call it over HTTP.</p>
      <div className="tabs" role="tablist">
        <button role="tab" type="button" aria-selected={mode === "login"} onClick={() => setMode("login")}>
          Sign in
        </button>
        <button role="tab" type="button" aria-selected={mode === "signup"} onClick={() => setMode("signup")}>
          Create account
        </button>
      </div>
      <form onSubmit={submit} className="card stack">
        <label>
          Email
          <input type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label>
          Password
          <input
            type="password"
            autoComplete={mode === "signup" ? "new-password" : "current-password"}
            required
            minLength={mode === "signup" ? 10 : undefined}
            value={password}
            aria-invalid={tooShort}
            onChange={(e) => setPassword(e.target.value)}
          />
          {tooShort && <span className="hint">At least 10 characters.</span>}
        </label>
        <ErrorNote message={error} />
        <button type="submit" disabled={busy}>
          {mode === "signup" ? "Create account" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
