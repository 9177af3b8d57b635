import { useCallback, useEffect, useState } from "react";
import { api, describeError, type Me } from "./api/client";
import { ErrorNote } from "./components/ErrorNote";
import { DatasetPage } from "./pages/DatasetPage";
import { DatasetsPage } from "./pages/DatasetsPage";
import { ModelPage } from "./pages/ModelPage";
import { ModelsPage } from "./pages/ModelsPage";
import { NewRunPage } from "./pages/NewRunPage";
import { RunPage } from "./pages/RunPage";
import { RunsPage } from "./pages/RunsPage";
import { SignInPage } from "./pages/SignInPage";
import { Link, navigate, usePath } from "./router";

function Page({ path }: { path: string }) {
  const parts = path.split("/").filter(Boolean);
  if (parts[0] === "datasets" && parts[1]) return <DatasetPage id={parts[1]} />;
  if (parts[0] === "runs" && parts[1] === "new") return <NewRunPage />;
  if (parts[0] === "runs" && parts[1]) return <RunPage id={parts[1]} />;
  if (parts[0] === "runs") return <RunsPage />;
  if (parts[0] === "models" && parts[1]) return <ModelPage id={parts[1]} />;
  if (parts[0] === "models") return <ModelsPage />;
  return <DatasetsPage />;
}

export function App() {
  const path = usePath();
  const [me, setMe] = useState<Me | null>(null);
  const [state, setState] = useState<"loading" | "signed-out" | "ready" | "error">("loading");
  const [error, setError] = useState("");

  const load = useCallback(async () => {
    try {
      const { data, error, response } = await api.GET("/api/v1/auth/me");
      if (data) {
        setMe(data);
        setState("ready");
      } else if (response.status === 401) {
        setState("signed-out");
      } else {
        setError(describeError(error, response));
        setState("error");
      }
    } catch (e) {
      setError(describeError(e));
      setState("error");
    }
  }, []);

  useEffect(() => {
    load();
  }, [load]);

  const signOut = async () => {
    await api.POST("/api/v1/auth/logout");
    setMe(null);
    setState("signed-out");
    navigate("/");
  };

  if (state === "loading") return <main className="page" aria-busy="true">Loading…</main>;
  if (state === "error") return <main className="page"><ErrorNote message={error} /></main>;
  if (state === "signed-out") return <SignInPage onSignedIn={load} />;

  const section = path.split("/")[1] || "datasets";
  const nav = [
    { href: "/", label: "Data sets", key: "datasets" },
    { href: "/runs/new", label: "New run", key: "new" },
    { href: "/runs", label: "Runs", key: "runs" },
    { href: "/models", label: "Models", key: "models" },
  ];
  const current = path === "/runs/new" ? "new" : section;
  return (
    <>
      <header className="topbar">
        <Link href="/" className="brand">Trainyard</Link>
        <nav aria-label="Main">
          {nav.map((item) => (
            <Link key={item.key} href={item.href} aria-current={current === item.key ? "page" : undefined}>
              {item.label}
            </Link>
          ))}
          <a href="/docs">API docs</a>
        </nav>
        {me?.auth_mode === "multi_user" && (
          <div className="account">
            <span className="muted">{me.user.email}</span>
            <button type="button" className="link" onClick={signOut}>Sign out</button>
          </div>
        )}
      </header>
      <main className="page">
        <Page path={path} />
      </main>
    </>
  );
}
