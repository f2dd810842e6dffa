// The fulfilment process: its instances by state, the suspended and the stuck first; one
// instance's timeline; a suspended one sent back to work.
import { html } from "htm/preact";
import { OPERATE } from "../auth.js";
import { usePoll } from "../poll.js";
import { href } from "../router.js";
import { Actor, Failure, Loading, Missing, Status, number, when } from "../widgets.js";
import { Outcome, useAction } from "./actions.js";

const STATES = ["suspended", "stuck", "active", "completed"];
const PAGE = 50;

function stateBadge(p) {
  if (p.state === "suspended") return html`<${Status} kind="bad">suspended<//>`;
  if (p.stuck) return html`<${Status} kind="warn">active, stuck<//>`;
  return html`<${Status} kind=${p.state === "completed" ? "muted" : "ok"}>${p.state}<//>`;
}

function Reservations({ reservations }) {
  const entries = Object.entries(reservations || {});
  return entries.length ? entries.map(([sku, units]) => `${sku} × ${units}`).join(", ") : "–";
}

function useRetry(api, after) {
  const [state, run] = useAction(after);
  const retry = (orderId) =>
    run(() => api.write(`/processes/${encodeURIComponent(orderId)}/retry`, { method: "POST" }),
      (p) => `The process of order ${p.order_id} is ${p.state} again.`);
  return [state, retry];
}

function Instances({ api, title, items, retry, busy, testid }) {
  return html`<section aria-label=${title} data-testid=${testid}><h2>${title}</h2>
    ${items.length === 0 ? html`<p class="muted">None.</p>` : html`<div class="scroll"><table class="grid">
      <thead><tr><th scope="col">Order</th><th scope="col">State</th><th scope="col">Stage</th>
        <th scope="col">Reserved</th><th scope="col">Attempts</th><th scope="col">Error</th>
        <th scope="col">Updated</th><th scope="col">Action</th></tr></thead>
      <tbody>${items.map((p) => html`<tr data-order=${p.order_id}>
        <th scope="row"><a href=${href("processes", p.order_id)}><code>${p.order_id}</code></a></th>
        <td>${stateBadge(p)}</td><td>${p.stage}</td>
        <td><${Reservations} reservations=${p.reservations} /></td>
        <td class="num">${number(p.attempts)}</td>
        <td class="wrap">${p.error || "–"}</td><td>${when(p.updated_at)}</td>
        <td>${p.state === "suspended" && retry
          ? html`<button onClick=${() => retry(p.order_id)} disabled=${busy}
              aria-label=${`Retry the process of order ${p.order_id}`}>Retry</button>`
          : ""}</td>
      </tr>`)}</tbody></table></div>`}
  </section>`;
}

async function loadProcesses(api, state, cursor) {
  const list = (query) => api.write(`/processes?${query}`);
  if (state) {
    const page = await list(`state=${state}&limit=${PAGE}${cursor ? `&cursor=${cursor}` : ""}`);
    return { sections: [[state, page.items]], next: page.next_cursor };
  }
  const [suspended, stuck, recent] = await Promise.all([
    list("state=suspended&limit=200"),
    list("state=stuck&limit=200"),
    list(`limit=${PAGE}${cursor ? `&cursor=${cursor}` : ""}`),
  ]);
  return {
    sections: [["suspended", suspended.items], ["stuck", stuck.items], ["recent", recent.items]],
    next: recent.next_cursor,
  };
}

const TITLES = {
  suspended: "Suspended: waiting for an operator",
  stuck: "Stuck: active but not moving",
  active: "Active",
  completed: "Completed",
  recent: "Every instance, most recently updated first",
};

export function ProcessesPage({ api, session, route }) {
  const state = route.query.get("state") || "";
  const cursor = route.query.get("cursor") || "";
  const key = `${state}|${cursor}`;
  const poll = usePoll(() => loadProcesses(api, state, cursor), { every: 10000, key });
  const [action, retry] = useRetry(api, () => poll.refresh());
  if (!session.can(OPERATE)) {
    return html`<h1>Processes</h1><${Missing} scope="ordering:operate" what="The fulfilment process" />`;
  }
  return html`<h1>Processes</h1>
    <form class="inline" onSubmit=${(e) => e.preventDefault()}>
      <label for="process-state">Show</label>
      <select id="process-state" value=${state}
        onChange=${(e) => { location.hash = href("processes", null, { state: e.target.value }); }}>
        <option value="">suspended and stuck first, then every instance</option>
        ${STATES.map((s) => html`<option value=${s}>${s} only</option>`)}
      </select>
    </form>
    <${Outcome} state=${action} />
    <${Failure} error=${poll.error} what="The process's instances" />
    <${Loading} state=${poll} />
    ${poll.data && poll.data.sections.map(([name, items]) => html`<${Instances} api=${api}
      title=${TITLES[name]} items=${items} retry=${retry} busy=${action.busy} testid=${`processes-${name}`} />`)}
    ${poll.data?.next && html`<nav class="pager" aria-label="Process pages">
      <a href=${href("processes", null, { state, cursor: poll.data.next })} rel="next">Next page</a></nav>`}`;
}

export function ProcessPage({ api, session, id }) {
  const poll = usePoll(() => api.write(`/processes/${encodeURIComponent(id)}`), { every: 5000, key: id });
  const [action, retry] = useRetry(api, () => poll.refresh());
  if (!session.can(OPERATE)) {
    return html`<h1>Process</h1><${Missing} scope="ordering:operate" what="The fulfilment process" />`;
  }
  const p = poll.data;
  return html`<p class="crumbs"><a href=${href("processes")}>Processes</a> › ${id}</p>
    <h1>Fulfilment of order ${id}</h1>
    <${Outcome} state=${action} />
    <${Failure} error=${poll.error} what="The process" />
    <${Loading} state=${poll} />
    ${p && html`<dl class="facts" data-testid="process">
        <dt>State</dt><dd>${stateBadge(p)}</dd><dt>Stage</dt><dd>${p.stage}</dd>
        <dt>Reserved</dt><dd><${Reservations} reservations=${p.reservations} /></dd>
        <dt>Attempts</dt><dd>${number(p.attempts)}</dd>
        <dt>Error</dt><dd class="wrap">${p.error || "–"}</dd>
        <dt>Deadline</dt><dd>${when(p.deadline_at)}</dd>
        <dt>Started</dt><dd>${when(p.started_at)}</dd><dt>Updated</dt><dd>${when(p.updated_at)}</dd>
        <dt>Stream</dt><dd><a href=${href("streams", p.order_id)}>the order's events</a></dd>
      </dl>
      ${p.state === "suspended" && html`<button onClick=${() => retry(p.order_id)} disabled=${action.busy}>Retry</button>`}
      <h2>Timeline</h2>
      <div class="scroll"><table class="grid">
        <thead><tr><th scope="col">Position</th><th scope="col">Stream</th><th scope="col">Event</th>
          <th scope="col">Recorded</th><th scope="col">Actor</th><th scope="col">Data</th></tr></thead>
        <tbody>${p.timeline.map((e) => html`<tr>
          <td class="num">${e.position}</td><td>${e.stream}</td><th scope="row">${e.type}</th>
          <td>${when(e.recorded_at)}</td><td><${Actor} actor=${e.actor} /></td>
          <td><details><summary>data</summary><pre class="raw">${JSON.stringify(e.data, null, 2)}</pre></details></td>
        </tr>`)}</tbody></table></div>`}`;
}
