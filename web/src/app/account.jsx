// The account's side: the quota meter and its warnings, the plan switch, the admin dashboard.
import { useEffect, useState } from "preact/hooks";
import { run } from "./client.js";
import { bytes } from "./format.js";
import { Dashboard, UpgradePlan } from "./operations.js";

export function QuotaMeter({ usage }) {
  const used = Number(usage.usedBytes);
  const limit = Number(usage.limitBytes);
  // Rounded down: 80 % shows once 80 % is reached, as the server's warning says.
  const percent = limit ? Math.min(100, Math.floor((used / limit) * 100)) : 0;
  const level = percent >= 100 ? "full" : percent >= 90 ? "high" : percent >= 80 ? "warn" : "";
  return (
    <div class={`quota ${level}`}>
      <div class="bar" role="meter" aria-label="Storage used" aria-valuemin="0" aria-valuemax="100" aria-valuenow={percent} aria-valuetext={`${percent} % of your storage used`}>
        <div class="fill" style={{ width: `${percent}%` }} />
      </div>
      <p>
        {bytes(used)} of {bytes(limit)} used ({percent} %)
      </p>
    </div>
  );
}

export function QuotaWarning({ percent, onDismiss }) {
  const text =
    percent >= 100
      ? "Your storage is full: new uploads are refused until you delete documents or switch to PREMIUM."
      : `You have used ${percent} % of your storage.`;
  return (
    <div class={percent >= 100 ? "banner full" : "banner"}>
      <p role="alert">{text}</p>
      <button type="button" class="secondary" onClick={onDismiss}>Dismiss</button>
    </div>
  );
}

const PLANS = {
  FREE: "5 GB; search by name, tags and description.",
  PREMIUM: "20 GB; search the text inside your documents too.",
};

export function PlanView({ client, me, onChanged }) {
  const [error, setError] = useState("");
  const [note, setNote] = useState("");

  async function switchTo(plan) {
    setError("");
    setNote("");
    try {
      const result = (await run(client, UpgradePlan, { input: { plan } }, "mutation")).upgradePlan;
      if (result.__typename !== "PlanChangePayload") setError(result.message);
      else {
        onChanged({ ...me, plan: result.account.plan, usage: { ...me.usage, ...result.account.usage } });
        setNote(result.backfillStarted ? `You are on ${plan} now. Your documents' text is being indexed for search.` : `You are on ${plan} now.`);
      }
    } catch (failure) {
      setError(failure.message);
    }
  }

  return (
    <section aria-labelledby="plan-heading">
      <h2 id="plan-heading">Plan</h2>
      <ul class="plans">
        {Object.entries(PLANS).map(([plan, what]) => (
          <li key={plan} class={me.plan === plan ? "current" : ""}>
            <h3>{plan}</h3>
            <p>{what}</p>
            {me.plan === plan ? <p><strong>Your plan</strong></p> : <button type="button" onClick={() => switchTo(plan)}>Switch to {plan}</button>}
          </li>
        ))}
      </ul>
      {note && <p role="status">{note}</p>}
      {error && <p role="alert" class="error">{error}</p>}
    </section>
  );
}

/** A horizontal bar chart in SVG: one bar a row, labelled, with its value. */
function BarChart({ title, rows, format = String }) {
  const max = Math.max(1, ...rows.map((row) => Number(row.value)));
  const height = rows.length * 28 + 8;
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 320 ${height}`} role="img" aria-label={`${title}: ${rows.map((row) => `${row.label} ${format(row.value)}`).join(", ") || "nothing yet"}`}>
        {rows.map((row, index) => {
          const width = (Number(row.value) / max) * 120;
          const y = index * 28 + 4;
          return (
            <g key={row.label}>
              <text x="0" y={y + 15} class="label">{row.label.length > 18 ? `${row.label.slice(0, 17)}…` : row.label}</text>
              <rect x="120" y={y} width={Math.max(width, 1)} height="20" rx="3" />
              <text x={124 + width} y={y + 15} class="value">{format(row.value)}</text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
}

export function DashboardView({ client }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState("");
  useEffect(() => {
    run(client, Dashboard).then((result) => setData(result.dashboard)).catch((failure) => setError(failure.message));
  }, [client]);
  if (error) return <p role="alert" class="error">{error}</p>;
  if (!data) return <p>Loading the dashboard…</p>;
  const short = (type) => type.replace("application/", "").replace("vnd.openxmlformats-officedocument.", "");
  return (
    <section aria-labelledby="dashboard-heading">
      <h2 id="dashboard-heading">Dashboard</h2>
      <dl class="totals">
        <div><dt>Documents</dt><dd>{data.documentCount}</dd></div>
        <div><dt>Storage</dt><dd>{bytes(data.totalStorageBytes)}</dd></div>
        <div><dt>Average size</dt><dd>{bytes(Math.round(data.averageDocumentSize))}</dd></div>
        <div><dt>Accounts over quota</dt><dd>{data.accountsOverQuota}</dd></div>
        <div><dt>Failed documents</dt><dd>{data.failedDocuments}</dd></div>
      </dl>
      <div class="charts">
        <BarChart title="Accounts per plan" rows={data.accountsPerPlan.map((row) => ({ label: row.plan, value: row.accounts }))} />
        <BarChart title="Documents per plan" rows={data.perPlan.map((row) => ({ label: row.plan, value: row.documents }))} />
        <BarChart title="Storage per plan" rows={data.perPlan.map((row) => ({ label: row.plan, value: row.bytes }))} format={bytes} />
        <BarChart title="Documents per content type" rows={data.perContentType.map((row) => ({ label: short(row.contentType), value: row.documents }))} />
        <BarChart title="Storage per content type" rows={data.perContentType.map((row) => ({ label: short(row.contentType), value: row.bytes }))} format={bytes} />
      </div>
      <table>
        <caption>Queues</caption>
        <thead><tr><th scope="col">Queue</th><th scope="col">Waiting</th><th scope="col">Dead letters</th></tr></thead>
        <tbody>
          {data.queueDepth.map((queue) => (
            <tr key={queue.queue}><th scope="row">{queue.queue}</th><td>{queue.messages}</td><td>{queue.deadLetters}</td></tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
