// The typed client for /api/v1, generated from the gateway's OpenAPI document (schema.d.ts).
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Dataset = Schemas["DatasetOut"];
export type Run = Schemas["RunOut"];
export type Model = Schemas["ModelOut"];
export type Me = Schemas["Me"];
export type Prediction = Schemas["Prediction"];
export type ErrorBody = Schemas["ErrorBody"];

export const CSRF_HEADER = "X-CSRF-Token";
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export function csrfToken(): string {
  const match = document.cookie.split("; ").find((c) => c.startsWith("trainyard_csrf="));
  return match ? decodeURIComponent(match.slice("trainyard_csrf=".length)) : "";
}

const csrf: Middleware = {
  onRequest({ request }) {
    if (!SAFE.has(request.method)) {
      const token = csrfToken();
      if (token) request.headers.set(CSRF_HEADER, token);
    }
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: "" });
api.use(csrf);

/** A sentence a person can act on, from whatever the API or the network said. */
export function describeError(error: unknown, response?: Response): string {
  const body = error as Partial<ErrorBody> | undefined;
  if (body && typeof body === "object" && body.error?.message) return body.error.message;
  if (response?.status === 429) return "Too many requests; wait a few seconds and try again.";
  if (response && response.status >= 500) return `The server had a problem (${response.status}); try again shortly.`;
  if (error instanceof Error) return `Could not reach Trainyard: ${error.message}`;
  return "Something went wrong; try again.";
}

/** Upload with progress events (fetch cannot report upload progress); the answer is typed like the API's. */
export function uploadDataset(
  form: FormData,
  onProgress: (fraction: number) => void,
): Promise<{ ok: true; dataset: Dataset } | { ok: false; message: string; report?: unknown }> {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/datasets");
    const token = csrfToken();
    if (token) xhr.setRequestHeader(CSRF_HEADER, token);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onerror = () => resolve({ ok: false, message: "The upload was interrupted; check the connection and retry." });
    xhr.onload = () => {
      let body: unknown = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        /* not JSON: described below */
      }
      if (xhr.status === 200 || xhr.status === 201) return resolve({ ok: true, dataset: body as Dataset });
      const err = body as ErrorBody | null;
      const detail = err?.error?.detail as { report?: unknown } | undefined;
      resolve({
        ok: false,
        message: err?.error?.message ?? `Upload failed (${xhr.status}).`,
        report: detail?.report,
      });
    };
    xhr.send(form);
  });
}
