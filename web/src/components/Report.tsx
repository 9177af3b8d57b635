// A data set's health report as a person reads it: the headline, per-class bars, then each problem with
// its explanation and the files or rows it names.
import { Bars } from "./Bars";

type ClassRow = { name: string; found?: number; used?: number; train?: number; val?: number };
type Problem = { code: string; severity: string; message: string; source?: string | null };

export function Report({ report }: { report: Record<string, unknown> }) {
  const classes = (report.classes as ClassRow[] | undefined) ?? [];
  const problems = (report.problems as Problem[] | undefined) ?? [];
  const notListed = (report.problems_not_listed as number | undefined) ?? 0;
  const groups = new Map<string, Problem[]>();
  for (const p of problems) groups.set(p.code, [...(groups.get(p.code) ?? []), p]);
  return (
    <section className="card" aria-label="Health report">
      <h2>Health report</h2>
      {typeof report.summary === "string" && <p className="summary">{report.summary}</p>}
      {classes.length > 0 && (
        <Bars
          label="Items per class"
          rows={classes.map((c) => ({
            name: c.name,
            value: c.used ?? c.found ?? 0,
            note: c.train !== undefined ? `(${c.train} train / ${c.val} validation)` : undefined,
          }))}
        />
      )}
      {groups.size === 0 ? (
        <p>No problems found.</p>
      ) : (
        <ul className="problems">
          {[...groups.entries()].map(([code, list]) => (
            <li key={code} className={list[0].severity}>
              <details open={list[0].severity === "error" || list.length < 4}>
                <summary>
                  <strong>{list[0].severity === "error" ? "Problem" : "Warning"}:</strong> {list[0].message}
                  {list.length > 1 ? ` (and ${list.length - 1} more like it)` : ""}
                </summary>
                {list.some((p) => p.source) && (
                  <ul className="sources">
                    {list.slice(0, 50).map((p, i) => (
                      <li key={i}>
                        {p.source ? <code>{p.source}</code> : null} {list.length > 1 ? p.message : ""}
                      </li>
                    ))}
                  </ul>
                )}
              </details>
            </li>
          ))}
        </ul>
      )}
      {notListed > 0 && <p className="muted">{notListed} more problems were counted but not listed.</p>}
    </section>
  );
}
