// Dead letters: the records a projection could not apply, each with its error and attempts;
// one inspected with its raw record; replayed one at a time or all at once.
import { html } from "htm/preact";
import { OPERATE } from "../auth.js";
import { usePoll } from "../poll.js";
import { href } from "../router.js";
import { Failure, Loading, Missing, number, when } from "../widgets.js";
import { Outcome, useAction } from "./actions.js";

const PROJECTIONS = ["order_details", "customers", "sales", "stock"];

function outcomeText(replayed) {
  return replayed.applied
    ? `${replayed.id} was applied and removed.`
    : `${replayed.id} failed again: ${replayed.error}`;
}

export function DeadLettersPage({ api, session, route }) {
  const projection = route.query.get("projection") || "";
  const query = projection ? `?projection=${encodeURIComponent(projection)}` : "";
  const poll = usePoll(() => api.read(`/dead-letters${query}`), { every: 10000, key: query });
  const [state, run] = useAction(() => poll.refresh());
  if (!session.can(OPERATE)) {
    return html`<h1>Dead letters</h1><${Missing} scope="ordering:operate" what="Reading dead letters" />`;
  }
  const letters = poll.data?.dead_letters || [];
  const replayAll = () =>
    run(() => api.read(`/dead-letters/replay${query}`, { method: "POST" }), (answer) => {
      const applied = answer.replayed.filter((r) => r.applied).length;
      return `${applied} of ${answer.replayed.length} dead letters applied.`;
    });
  const replay = (id) =>
    run(() => api.read(`/dead-letters/${encodeURIComponent(id)}/replay`, { method: "POST" }), outcomeText);
  return html`<h1>Dead letters</h1>
    <form class="inline" onSubmit=${(e) => e.preventDefault()}>
      <label for="dl-projection">Projection</label>
      <select id="dl-projection" value=${projection}
        onChange=${(e) => { location.hash = href("dead-letters", null, { projection: e.target.value }); }}>
        <option value="">every projection</option>
        ${PROJECTIONS.map((name) => html`<option value=${name}>${name}</option>`)}
      </select>
      <button type="button" onClick=${replayAll} disabled=${state.busy || !letters.length}>
        Replay all${projection ? ` of ${projection}` : ""}</button>
    </form>
    <${Outcome} state=${state} />
    <${Failure} error=${poll.error} what="The dead letters" />
    <${Loading} state=${poll} />
    ${poll.data && !letters.length && html`<p data-testid="no-dead-letters">No dead letter${projection ? ` for ${projection}` : ""}.</p>`}
    ${letters.length > 0 && html`<div class="scroll"><table class="grid">
      <caption class="sr-only">Dead letters, oldest first</caption>
      <thead><tr><th scope="col">Record</th><th scope="col">Projection</th><th scope="col">Error</th>
        <th scope="col">Attempts</th><th scope="col">Failed at</th><th scope="col">Action</th></tr></thead>
      <tbody>${letters.map((letter) => html`<tr data-letter=${letter.id}>
        <th scope="row"><a href=${href("dead-letters", letter.id)}>${letter.topic}/${letter.partition}@${letter.offset}</a></th>
        <td>${letter.projection}</td>
        <td class="wrap">${letter.error.slice(0, 160)}</td>
        <td class="num">${number(letter.attempts)}</td>
        <td>${when(letter.failed_at)}</td>
        <td><button onClick=${() => replay(letter.id)} disabled=${state.busy}
          aria-label=${`Replay ${letter.topic}/${letter.partition}@${letter.offset}`}>Replay</button></td>
      </tr>`)}</tbody></table></div>`}`;
}

function pretty(value) {
  try {
    return JSON.stringify(JSON.parse(value), null, 2);
  } catch {
    return value;
  }
}

export function DeadLetterPage({ api, session, id }) {
  const path = `/dead-letters/${encodeURIComponent(id)}`;
  const poll = usePoll(() => api.read(path), { every: 0, key: id });
  const [state, run] = useAction(() => poll.refresh());
  if (!session.can(OPERATE)) {
    return html`<h1>Dead letter</h1><${Missing} scope="ordering:operate" what="Reading dead letters" />`;
  }
  const letter = poll.data;
  const gone = poll.error?.status === 404;
  return html`<p class="crumbs"><a href=${href("dead-letters")}>Dead letters</a> › ${id}</p>
    <h1>Dead letter</h1>
    <${Outcome} state=${state} />
    ${gone ? html`<p>This dead letter is gone (applied, or never was).</p>`
      : html`<${Failure} error=${poll.error} what="The dead letter" />`}
    <${Loading} state=${poll} />
    ${letter && html`
      <button onClick=${() => run(() => api.read(`${path}/replay`, { method: "POST" }), outcomeText)}
        disabled=${state.busy}>Replay</button>
      <dl class="facts">
        <dt>Projection</dt><dd>${letter.projection}</dd>
        <dt>Record</dt><dd>${letter.topic}, partition ${letter.partition}, offset ${letter.offset}</dd>
        <dt>Key</dt><dd><code>${letter.key ?? "–"}</code></dd>
        <dt>Error</dt><dd><code class="wrap" data-testid="letter-error">${letter.error}</code></dd>
        <dt>Attempts</dt><dd>${number(letter.attempts)}</dd>
        <dt>Failed at</dt><dd>${when(letter.failed_at)}</dd>
      </dl>
      <h2>Headers</h2>
      <table class="grid"><thead><tr><th scope="col">Header</th><th scope="col">Value</th></tr></thead>
        <tbody>${Object.entries(letter.headers).map(([k, v]) => html`<tr><th scope="row">${k}</th><td class="wrap">${v}</td></tr>`)}</tbody></table>
      <h2>Value</h2>
      <pre class="raw" tabindex="0" aria-label="The record's value">${letter.value === null ? "(none)" : pretty(letter.value)}</pre>`}`;
}
