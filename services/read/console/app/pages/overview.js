// Overview: every projection with its state, version, position and lag (a live chart of the
// last few minutes), the relay's and the fulfilment process's lag, and each part's health.
import { html } from "htm/preact";
import { metric, parseMetrics } from "../api.js";
import { usePoll } from "../poll.js";
import { href } from "../router.js";
import { Failure, Loading, Sparkline, Status, number, seconds } from "../widgets.js";

export const OVERVIEW_EVERY_MS = 5000;
const KEPT_SAMPLES = 60;
const samples = new Map(); // projection -> [{at, lagEvents, lagSeconds, applied}], kept across pages

export function remember(projections, at) {
  for (const p of projections) {
    const kept = samples.get(p.name) || [];
    if (!kept.length || kept[kept.length - 1].at !== at) {
      kept.push({ at, lagEvents: p.lag_events, lagSeconds: p.lag_seconds, applied: p.events_applied });
    }
    samples.set(p.name, kept.slice(-KEPT_SAMPLES));
  }
}

export function rateOf(name) {
  const kept = samples.get(name) || [];
  if (kept.length < 2) return null;
  const [a, b] = kept.slice(-2);
  return b.at > a.at ? Math.max(0, ((b.applied - a.applied) * 1000) / (b.at - a.at)) : null;
}

async function health(call) {
  try {
    return { ok: true, body: await call() };
  } catch (error) {
    return { ok: false, detail: error.message, status: error.status };
  }
}

async function loadOverview(api) {
  const [projections, readReady, writeReady, metrics] = await Promise.all([
    api.read("/projections"),
    health(() => api.read("/health/ready")),
    health(() => api.write("/health/ready")),
    api.write("/metrics", { text: true }).then(parseMetrics, () => null),
  ]);
  const at = Date.now();
  remember(projections.projections, at);
  return { projections: projections.projections, readReady, writeReady, metrics };
}

export function projectionState(p) {
  if (!p.healthy) return ["failing", "bad"];
  if (p.state === "rebuilding") return ["rebuilding", "warn"];
  if (p.paused) return ["paused", "warn"];
  return ["live", "ok"];
}

function ProjectionRows({ projections }) {
  return projections.map((p) => {
    const [state, kind] = projectionState(p);
    const kept = samples.get(p.name) || [];
    return html`<tr data-projection=${p.name}>
      <th scope="row"><a href=${href("projections", p.name)}>${p.name}</a></th>
      <td><${Status} kind=${kind}>${state}<//></td>
      <td class="num">${p.active_version}</td>
      <td class="num">${number(p.position)}</td>
      <td class="num" data-testid="lag-events">${p.lag_measured ? number(p.lag_events) : "–"}</td>
      <td class="num" data-testid="lag-seconds">${p.lag_measured ? seconds(p.lag_seconds) : "–"}</td>
      <td class="charts"><${Sparkline} values=${kept.map((s) => s.lagEvents)} label=${`${p.name} lag in events`} />
        <${Sparkline} values=${kept.map((s) => s.lagSeconds)} label=${`${p.name} lag in seconds`} /></td>
      <td class="num">${rateOf(p.name) === null ? "–" : rateOf(p.name).toFixed(1)}</td>
      <td class="num">${p.dead_letters
        ? html`<a href=${href("dead-letters", null, { projection: p.name })}>${number(p.dead_letters)}</a>`
        : "0"}</td>
    </tr>`;
  });
}

function HealthItem({ name, check, detail }) {
  return html`<li><span class="health-name">${name}</span>
    <${Status} kind=${check ? "ok" : "bad"}>${check ? "up" : "down"}<//>
    ${detail && html`<span class="muted"> ${detail}</span>`}</li>`;
}

function Health({ data }) {
  const { readReady, writeReady, metrics } = data;
  const mongoDown = !readReady.ok && /MongoDB/.test(readReady.detail || "");
  const relay = writeReady.ok ? writeReady.body.relay : "unknown";
  const publishErrors = metrics ? metric(metrics, "outbox_publish_errors_total") : null;
  return html`<section aria-labelledby="health-title"><h2 id="health-title">Health</h2>
    <ul class="health">
      <${HealthItem} name="Read service" check=${readReady.ok}
        detail=${readReady.ok ? "ready" : readReady.detail} />
      <${HealthItem} name="MongoDB" check=${readReady.ok || !mongoDown} />
      <${HealthItem} name="Write service" check=${writeReady.ok}
        detail=${writeReady.ok ? "ready" : writeReady.detail} />
      <${HealthItem} name="PostgreSQL" check=${writeReady.ok}
        detail=${writeReady.ok ? "the event store answers" : ""} />
      <${HealthItem} name="Kafka (relay)" check=${relay === "running"}
        detail=${`relay ${relay}${writeReady.ok && writeReady.body.relay_leader ? ", leading" : ""}${publishErrors ? `, ${number(publishErrors)} publish errors` : ""}`} />
    </ul></section>`;
}

function Background({ metrics }) {
  if (!metrics) return html`<p class="muted">The write service's metrics could not be read.</p>`;
  const value = (name, labels) => metric(metrics, name, labels);
  const rows = [
    ["Event store head position", number(value("eventstore_head_position"))],
    ["Relay lag (events not yet in Kafka)", number(value("outbox_lag_events"))],
    ["Fulfilment process lag (events)", number(value("fulfilment_lag_events"))],
    ["Fulfilment process lag (seconds)", seconds(value("fulfilment_lag_seconds"))],
    ["Suspended fulfilment instances", number(value("fulfilment_instances", { state: "suspended" }))],
    ["Stuck fulfilment instances", number(value("fulfilment_instances", { state: "stuck" }))],
  ];
  return html`<section aria-labelledby="background-title">
    <h2 id="background-title">Relay and fulfilment process</h2>
    <dl class="facts" data-testid="background">
      ${rows.map(([label, shown]) => html`<dt>${label}</dt><dd>${shown}</dd>`)}
    </dl></section>`;
}

export function OverviewPage({ api }) {
  const state = usePoll(() => loadOverview(api), { every: OVERVIEW_EVERY_MS });
  const { data } = state;
  return html`<h1>Overview</h1>
    <${Failure} error=${state.error} what="The projections' status" />
    <${Loading} state=${state} />
    ${data && html`<section aria-labelledby="projections-title">
      <h2 id="projections-title">Projections</h2>
      <div class="scroll"><table class="grid">
        <caption class="sr-only">Each projection's state, version, position and lag</caption>
        <thead><tr><th scope="col">Projection</th><th scope="col">State</th>
          <th scope="col">Version</th><th scope="col">Position</th>
          <th scope="col">Lag (events)</th><th scope="col">Lag (time)</th>
          <th scope="col">Lag in events and seconds, last ${KEPT_SAMPLES} samples</th><th scope="col">Events/s</th>
          <th scope="col">Dead letters</th></tr></thead>
        <tbody><${ProjectionRows} projections=${data.projections} /></tbody>
      </table></div></section>
      <div class="columns"><${Health} data=${data} /><${Background} metrics=${data.metrics} /></div>`}
    <p class="muted refresh">Refreshed every ${OVERVIEW_EVERY_MS / 1000} s while this tab is shown.</p>`;
}
