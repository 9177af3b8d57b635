// Horizontal bars: class counts in a report, probabilities in a prediction.
export function Bars({
  rows,
  format = (v) => String(v),
  label,
}: {
  rows: { name: string; value: number; note?: string }[];
  format?: (value: number) => string;
  label: string;
}) {
  const max = Math.max(1e-9, ...rows.map((r) => r.value));
  return (
    <ul className="bars" aria-label={label}>
      {rows.map((row) => (
        <li key={row.name}>
          <span className="bar-name">{row.name}</span>
          <span className="bar-track">
            <span className="bar-fill" style={{ width: `${(100 * row.value) / max}%` }} />
          </span>
          <span className="bar-value">
            {format(row.value)}
            {row.note ? <span className="muted"> {row.note}</span> : null}
          </span>
        </li>
      ))}
    </ul>
  );
}
