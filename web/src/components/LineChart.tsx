// A small SVG line chart for training curves (no chart library: a few lines of geometry).
type Series = { name: string; points: [number, number][]; className: string };

export function LineChart({ title, series, yMax }: { title: string; series: Series[]; yMax?: number }) {
  const all = series.flatMap((s) => s.points);
  const width = 320;
  const height = 160;
  const pad = 28;
  if (all.length === 0) return null;
  const xMax = Math.max(1, ...all.map((p) => p[0]));
  const top = yMax ?? Math.max(1e-6, ...all.map((p) => p[1]));
  const x = (v: number) => pad + ((width - pad - 8) * (v - 1)) / Math.max(1, xMax - 1);
  const y = (v: number) => height - pad - ((height - pad - 8) * v) / top;
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={title}>
        <line x1={pad} y1={height - pad} x2={width - 8} y2={height - pad} className="axis" />
        <line x1={pad} y1={8} x2={pad} y2={height - pad} className="axis" />
        <text x={4} y={14} className="tick">{top.toFixed(top < 2 ? 2 : 1)}</text>
        <text x={4} y={height - pad} className="tick">0</text>
        <text x={width - 8} y={height - 8} textAnchor="end" className="tick">epoch {xMax}</text>
        {series.map((s) => (
          <g key={s.name} className={s.className}>
            <polyline fill="none" points={s.points.map(([a, b]) => `${x(a)},${y(b)}`).join(" ")} />
            {s.points.length <= 30 &&
              s.points.map(([a, b]) => <circle key={a} cx={x(a)} cy={y(b)} r={2.5} />)}
          </g>
        ))}
      </svg>
      <div className="legend">
        {series.map((s) => (
          <span key={s.name} className={`key ${s.className}`}>{s.name}</span>
        ))}
      </div>
    </figure>
  );
}
