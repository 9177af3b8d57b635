// The advanced panel: one field per hyperparameter of the task's config, read from the OpenAPI document
// (names, defaults, ranges, choices), each validated as it is typed.
import { useEffect, useState } from "react";

type Prop = {
  type?: string;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  description?: string;
  title?: string;
  anyOf?: Prop[];
};
type ObjectSchema = { properties?: Record<string, Prop> };

let cached: Promise<Record<string, ObjectSchema>> | null = null;
function schemas(): Promise<Record<string, ObjectSchema>> {
  cached ??= fetch("/openapi.json")
    .then((r) => r.json())
    .then((doc) => doc.components?.schemas ?? {});
  return cached;
}

const CONFIG_SCHEMA: Record<string, string> = { image: "ImageTrainConfig", text: "TextTrainConfig" };

function simple(prop: Prop): Prop | null {
  if (prop.type === "number" || prop.type === "integer" || prop.type === "boolean" || prop.enum) return prop;
  const options = (prop.anyOf ?? []).filter((p) => p.type !== "null");
  return options.length === 1 ? simple({ ...options[0], default: prop.default, description: prop.description }) : null;
}

export function check(prop: Prop, raw: string): string {
  if (raw === "") return "";
  if (prop.type !== "number" && prop.type !== "integer") return "";
  const value = Number(raw);
  if (!Number.isFinite(value)) return "Enter a number.";
  if (prop.type === "integer" && !Number.isInteger(value)) return "Enter a whole number.";
  if (prop.minimum !== undefined && value < prop.minimum) return `At least ${prop.minimum}.`;
  if (prop.maximum !== undefined && value > prop.maximum) return `At most ${prop.maximum}.`;
  if (prop.exclusiveMinimum !== undefined && value <= prop.exclusiveMinimum) return `More than ${prop.exclusiveMinimum}.`;
  if (prop.exclusiveMaximum !== undefined && value >= prop.exclusiveMaximum) return `Less than ${prop.exclusiveMaximum}.`;
  return "";
}

export function ConfigFields({
  task,
  values,
  onChange,
  onValidity,
}: {
  task: string;
  values: Record<string, string>;
  onChange: (name: string, value: string) => void;
  onValidity: (ok: boolean) => void;
}) {
  const [props, setProps] = useState<Record<string, Prop> | null>(null);
  useEffect(() => {
    schemas().then((all) => {
      const schema = all[CONFIG_SCHEMA[task]];
      const out: Record<string, Prop> = {};
      for (const [name, prop] of Object.entries(schema?.properties ?? {})) {
        const s = simple(prop);
        if (s && name !== "task") out[name] = s;
      }
      setProps(out);
    });
  }, [task]);

  const errors: Record<string, string> = Object.fromEntries(
    Object.entries(props ?? {}).map(([n, p]) => [n, check(p, values[n] ?? "")]),
  );
  const untyped = props !== null && Object.keys(props).length === 0;
  if (untyped) errors[JSON_FIELD] = checkJson(values[JSON_FIELD] ?? "");
  const ok = Object.values(errors).every((e) => !e);
  useEffect(() => onValidity(ok), [ok, onValidity]);

  if (props === null) return <p aria-busy="true">Loading settings…</p>;
  if (untyped)
    return (
      <div className="field">
        <label htmlFor="cfg-json">Settings as JSON (empty: the defaults)</label>
        <textarea
          id="cfg-json"
          rows={4}
          placeholder='{"epochs": 20}'
          value={values[JSON_FIELD] ?? ""}
          aria-invalid={Boolean(errors[JSON_FIELD])}
          aria-describedby="cfg-json-help"
          onChange={(e) => onChange(JSON_FIELD, e.target.value)}
        />
        <span id="cfg-json-help" className={errors[JSON_FIELD] ? "hint bad" : "hint"}>
          {errors[JSON_FIELD] || "This server does not list its settings one by one; the API docs name them."}
        </span>
      </div>
    );
  return (
    <div className="fields">
      {Object.entries(props).map(([name, prop]) => {
        const id = `cfg-${name}`;
        const help = prop.description ?? "";
        const placeholder = prop.default === undefined || prop.default === null ? "" : String(prop.default);
        return (
          <div key={name} className="field">
            <label htmlFor={id}>{name.replaceAll("_", " ")}</label>
            {prop.enum ? (
              <select id={id} value={values[name] ?? ""} onChange={(e) => onChange(name, e.target.value)}>
                <option value="">default ({placeholder})</option>
                {prop.enum.map((v) => (
                  <option key={String(v)} value={String(v)}>{String(v)}</option>
                ))}
              </select>
            ) : prop.type === "boolean" ? (
              <select id={id} value={values[name] ?? ""} onChange={(e) => onChange(name, e.target.value)}>
                <option value="">default ({placeholder})</option>
                <option value="true">yes</option>
                <option value="false">no</option>
              </select>
            ) : (
              <input
                id={id}
                inputMode="decimal"
                placeholder={placeholder}
                value={values[name] ?? ""}
                aria-invalid={Boolean(errors[name])}
                aria-describedby={`${id}-help`}
                onChange={(e) => onChange(name, e.target.value)}
              />
            )}
            <span id={`${id}-help`} className={errors[name] ? "hint bad" : "hint"}>
              {errors[name] || help}
            </span>
          </div>
        );
      })}
    </div>
  );
}

const JSON_FIELD = "__json";

function checkJson(raw: string): string {
  if (!raw.trim()) return "";
  try {
    const value = JSON.parse(raw);
    return value && typeof value === "object" && !Array.isArray(value) ? "" : 'Settings are a JSON object, like {"epochs": 20}.';
  } catch (e) {
    return `Not valid JSON: ${(e as Error).message}`;
  }
}

/** The typed values of the fields a person filled in; empty fields keep the server's defaults. */
export function configValues(values: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(values)) {
    if (raw === "") continue;
    if (name === JSON_FIELD) {
      if (!checkJson(raw)) Object.assign(out, JSON.parse(raw));
      continue;
    }
    if (raw === "true" || raw === "false") out[name] = raw === "true";
    else if (raw.trim() !== "" && !Number.isNaN(Number(raw))) out[name] = Number(raw);
    else out[name] = raw;
  }
  return out;
}
