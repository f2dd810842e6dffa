// One projection: its status and last error, pause and resume, and a rebuild with its phases
// and progress, live until the new version is switched in.
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { OPERATE } from "../auth.js";
import { usePoll } from "../poll.js";
import { href } from "../router.js";
import { Failure, Loading, Status, number, seconds, when } from "../widgets.js";
import { Outcome, useAction } from "./actions.js";
import { projectionState, rateOf, remember } from "./overview.js";

async function loadStatus(api) {
  const found = await api.read("/projections");
  remember(found.projections, Date.now());
  return found;
}

function Rebuild({ rebuild, version }) {
  if (!rebuild) return html`<p class="muted">No rebuild has run since this projection began.</p>`;
  const ratio = rebuild.ratio ?? 0;
  const done = !rebuild.running;
  return html`<div class="rebuild" data-testid="rebuild">
    <p>Phase: <strong data-testid="rebuild-phase">${rebuild.phase || "starting"}</strong>
      ${done ? " (finished)" : ""}</p>
    <label for="rebuild-progress">Replay progress (to version ${rebuild.target_version})</label>
    <progress id="rebuild-progress" max="1" value=${ratio}>${Math.round(ratio * 100)}%</progress>
    <dl class="facts">
      <dt>Events replayed</dt><dd data-testid="rebuild-events">${number(rebuild.events)} of ${number(rebuild.total)} (${Math.round(ratio * 100)}%)</dd>
      <dt>Events/s</dt><dd>${rebuild.rate === undefined || rebuild.rate === null ? "–" : number(Math.round(rebuild.rate))}</dd>
      <dt>ETA</dt><dd>${done ? "–" : seconds(rebuild.eta_seconds)}</dd>
      <dt>Started</dt><dd>${when(rebuild.started_at)}</dd>
      <dt>Finished</dt><dd>${when(rebuild.finished_at)}</dd>
    </dl>
    <p class="muted">${done
      ? `Version ${version} serves queries.`
      : `Version ${version} serves queries until the switch to version ${rebuild.target_version}.`}</p>
  </div>`;
}

function Actions({ api, p, refresh }) {
  const [state, run] = useAction(refresh);
  const path = `/projections/${encodeURIComponent(p.name)}`;
  const pause = () =>
    run(() => api.read(`${path}/${p.paused ? "resume" : "pause"}`, { method: "POST" }),
      (s) => (s.paused ? `${p.name} is paused.` : `${p.name} is applying events again.`));
  const rebuild = () =>
    run(() => api.read(`${path}/rebuild`, { method: "POST" }), () => `A rebuild of ${p.name} started.`);
  const rebuilding = p.state === "rebuilding";
  return html`<section aria-labelledby="actions-title"><h2 id="actions-title">Actions</h2>
    <div class="buttons">
      <button onClick=${pause} disabled=${state.busy}>${p.paused ? "Resume" : "Pause"}</button>
      <button onClick=${rebuild} disabled=${state.busy || rebuilding}>Start a rebuild</button>
    </div>
    <${Outcome} state=${state} />
  </section>`;
}

export function ProjectionPage({ api, session, name }) {
  // every 2 s while a rebuild runs, to watch it; every 5 s otherwise
  const [every, setEvery] = useState(2000);
  const poll = usePoll(() => loadStatus(api), { every, key: name });
  const p = poll.data?.projections.find((found) => found.name === name);
  const wanted = p && p.state !== "rebuilding" ? 5000 : 2000;
  if (wanted !== every) setEvery(wanted);
  if (poll.data && !p) return html`<h1>Projection ${name}</h1><p class="error" role="alert">No projection is called ${name}.</p>`;
  const [state, kind] = p ? projectionState(p) : ["", "ok"];
  return html`<p class="crumbs"><a href=${href("overview")}>Overview</a> › ${name}</p>
    <h1>Projection ${name}</h1>
    <${Failure} error=${poll.error} what="The projection's status" />
    <${Loading} state=${poll} />
    ${p && html`
      <dl class="facts" data-testid="status">
        <dt>State</dt><dd><${Status} kind=${kind}>${state}<//></dd>
        <dt>Active version</dt><dd data-testid="version">${p.active_version}</dd>
        <dt>Position</dt><dd>${number(p.position)}</dd>
        <dt>Lag</dt><dd>${number(p.lag_events)} events, ${seconds(p.lag_seconds)}</dd>
        <dt>Events applied (this replica)</dt><dd>${number(p.events_applied)}</dd>
        <dt>Events/s</dt><dd>${rateOf(p.name) === null ? "–" : rateOf(p.name).toFixed(1)}</dd>
        <dt>Dead letters</dt><dd>${number(p.dead_letters)}</dd>
        <dt>Last error</dt><dd>${p.last_error
          ? html`<code class="wrap">${p.last_error}</code>`
          : session.can(OPERATE) ? "none" : "shown to operators only"}</dd>
      </dl>
      ${session.can(OPERATE) && html`<${Actions} api=${api} p=${p} refresh=${poll.refresh} />`}
      <section aria-labelledby="rebuild-title"><h2 id="rebuild-title">Rebuild</h2>
        <${Rebuild} rebuild=${p.rebuild} version=${p.active_version} /></section>`}`;
}
