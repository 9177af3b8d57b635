// A run kept current while it trains: by its Server-Sent Events stream (EventSource on
// /api/v1/runs/{id}/events, resumed by the browser with Last-Event-ID after a dropped connection),
// or, where the stream cannot be used, by polling GET /api/v1/runs/{id} every second.
import { useEffect, useRef, useState } from "react";
import { api, describeError, type Run, type Schemas } from "../api/client";

type RunEvent = Schemas["RunEventOut"]["event"];
export type Epoch = Schemas["EpochEvent"];
export type LiveSource = "stream" | "polling" | "";

export const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
const STREAMED = ["state", "phase", "progress", "epoch", "imagenet_epoch", "log"] as const;
// Errors in a row (no message between) after which the page stops retrying the stream and polls.
const STREAM_ERRORS_BEFORE_POLLING = 3;

type Rate = { phase: string; unit: string; total: number; startDone: number; startAt: number };

/** The ETA of a counter from the rate this page has seen it move (the server's until then). */
function etaFrom(rate: Rate, done: number, now: number): number | null {
  if (done <= rate.startDone) return null;
  const perUnit = (now - rate.startAt) / 1000 / (done - rate.startDone);
  return Math.max(0, perUnit * (rate.total - done));
}

function apply(run: Run, event: RunEvent, rate: { current: Rate | null }): Run {
  const now = Date.now();
  switch (event.type) {
    case "state":
      return {
        ...run,
        status: event.status,
        attempts: event.attempt || run.attempts,
        error: event.error ?? run.error,
        ...(event.status === "queued" ? { phase: "queued", progress: { done: 0, total: 1, unit: "steps" } } : {}),
      };
    case "phase":
      rate.current = null;
      return { ...run, phase: event.phase, progress: { done: 0, total: 1, unit: "steps" }, eta_s: null };
    case "progress": {
      const r = rate.current;
      if (!r || r.phase !== event.phase || r.unit !== event.unit || r.total !== event.total) {
        rate.current = { phase: event.phase, unit: event.unit, total: event.total, startDone: event.done, startAt: now };
      }
      const progress = { done: event.done, total: event.total, unit: event.unit };
      return { ...run, phase: event.phase, progress, eta_s: etaFrom(rate.current!, event.done, now) };
    }
    case "epoch":
    case "imagenet_epoch": {
      const history = [...(((run.metrics as { history?: unknown[] }).history) ?? []), event];
      return { ...run, latest_metrics: event, metrics: { ...run.metrics, history } };
    }
    default:
      return run;
  }
}

export function useLiveRun(id: string) {
  const [run, setRun] = useState<Run | null>(null);
  const [error, setError] = useState("");
  const [source, setSource] = useState<LiveSource>("");
  const [lastLog, setLastLog] = useState("");
  const rate = useRef<Rate | null>(null);

  useEffect(() => {
    let stop = false;
    let timer = 0;
    let stream: EventSource | null = null;

    const load = async (): Promise<Run | null> => {
      const { data, error, response } = await api.GET("/api/v1/runs/{run_id}", { params: { path: { run_id: id } } });
      if (stop) return null;
      if (data) {
        setRun(data);
        setError("");
        return data;
      }
      setError(response.status === 404 ? "This run does not exist (or was deleted)." : describeError(error, response));
      return null;
    };

    const poll = async () => {
      setSource("polling");
      const data = await load();
      if (stop || (data && TERMINAL.has(data.status))) return;
      timer = window.setTimeout(poll, 1000);
    };

    const follow = (from: Run) => {
      let errors = 0;
      stream = new EventSource(`/api/v1/runs/${encodeURIComponent(id)}/events?after=${from.last_event_id}`);
      setSource("stream");
      const onMessage = (message: MessageEvent<string>) => {
        errors = 0;
        const { event } = JSON.parse(message.data) as Schemas["RunEventOut"];
        if (event.type === "log") {
          setLastLog(event.message);
          return;
        }
        setRun((current) => (current ? apply(current, event, rate) : current));
        if (event.type === "state" && TERMINAL.has(event.status)) {
          stream?.close(); // the server ends the stream here; without this the browser would reconnect
          void load(); // the final accuracy, model and error
        }
      };
      for (const type of STREAMED) stream.addEventListener(type, onMessage as EventListener);
      stream.onerror = () => {
        errors += 1;
        if (stream && (stream.readyState === EventSource.CLOSED || errors >= STREAM_ERRORS_BEFORE_POLLING)) {
          stream.close();
          stream = null;
          if (!stop) void poll();
        }
      };
    };

    void load().then((first) => {
      if (stop || !first || TERMINAL.has(first.status)) return;
      if (typeof EventSource === "undefined") void poll();
      else follow(first);
    });
    return () => {
      stop = true;
      window.clearTimeout(timer);
      stream?.close();
    };
  }, [id]);

  return { run, setRun, error, setError, source, lastLog };
}
