// Streams: one stream's events looked up by its id, and the whole log in commit order, page by
// page (the cursor is in the URL); each event with its metadata: actor, correlation, causation
// and trace (linked to the trace viewer when one is configured).
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { EVENTS } from "../auth.js";
import { usePoll } from "../poll.js";
import { href } from "../router.js";
import { Actor, Failure, Loading, Missing, when } from "../widgets.js";

const LOG_PAGE = 50;
const STREAM_PAGE = 500;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function traceId(traceparent) {
  const found = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(traceparent || "");
  return found ? found[1] : null;
}

function Trace({ api, metadata }) {
  const id = traceId(metadata.traceparent);
  if (!id) return html`<span class="muted">–</span>`;
  const link = api.traceLink(id);
  return link
    ? html`<a href=${link} target="_blank" rel="noopener noreferrer"><code>${id}</code></a>`
    : html`<code>${id}</code>`;
}

function EventsTable({ api, events, withStream }) {
  return html`<div class="scroll"><table class="grid events">
    <caption class="sr-only">Events with their metadata</caption>
    <thead><tr><th scope="col">Position</th>
      ${withStream && html`<th scope="col">Stream</th>`}
      <th scope="col">Version</th><th scope="col">Type</th><th scope="col">Recorded</th>
      <th scope="col">Actor</th><th scope="col">Correlation</th><th scope="col">Causation</th>
      <th scope="col">Trace</th><th scope="col">Data</th></tr></thead>
    <tbody>${events.map((e) => {
      const metadata = e.metadata || {};
      return html`<tr data-event=${e.event_id}>
        <td class="num">${e.position}</td>
        ${withStream && html`<td><a href=${href("streams", e.stream_id)}>${e.stream_type} ${e.stream_id.slice(0, 8)}…</a></td>`}
        <td class="num">${e.version}</td>
        <th scope="row">${e.event_type}</th>
        <td>${when(e.recorded_at)}</td>
        <td data-testid="actor"><${Actor} actor=${metadata.actor} /></td>
        <td><code class="id">${metadata.correlation_id || "–"}</code></td>
        <td><code class="id">${metadata.causation_id || "–"}</code></td>
        <td><${Trace} api=${api} metadata=${metadata} /></td>
        <td><details><summary>data</summary><pre class="raw">${JSON.stringify(e.data, null, 2)}</pre></details></td>
      </tr>`;
    })}</tbody></table></div>`;
}

function Lookup({ initial = "" }) {
  const [value, setValue] = useState(initial);
  const valid = UUID.test(value.trim());
  const submit = (e) => {
    e.preventDefault();
    if (valid) location.hash = href("streams", value.trim().toLowerCase());
  };
  return html`<form class="inline" onSubmit=${submit} role="search" aria-label="Look up a stream">
    <label for="stream-id">Stream id</label>
    <input id="stream-id" value=${value} size="38" placeholder="an order's, customer's or stock item's id"
      aria-describedby="stream-id-help" onInput=${(e) => setValue(e.target.value)} />
    <button type="submit" disabled=${!valid}>Look up</button>
    <span id="stream-id-help" class="muted">a UUID</span>
  </form>`;
}

export function StreamsPage({ api, session, route }) {
  const after = route.query.get("after") || "";
  const query = `?limit=${LOG_PAGE}${after ? `&after=${encodeURIComponent(after)}` : ""}`;
  const poll = usePoll(() => api.write(`/events${query}`), { every: 0, key: query });
  if (!session.can(EVENTS)) {
    return html`<h1>Streams</h1><${Missing} scope="ordering:events" what="Reading the event log" />`;
  }
  const page = poll.data;
  return html`<h1>Streams</h1>
    <${Lookup} />
    <section aria-labelledby="log-title">
      <h2 id="log-title">The whole log, in commit order</h2>
      <${Failure} error=${poll.error} what="The log" />
      <${Loading} state=${poll} />
      ${page && !page.events.length && html`<p>No event${after ? " after this point" : " yet"}.</p>`}
      ${page && page.events.length > 0 && html`<${EventsTable} api=${api} events=${page.events} withStream=${true} />`}
      ${page && html`
        <nav class="pager" aria-label="Log pages">
          ${after && html`<a href=${href("streams")}>First page</a>`}
          ${page.has_more
            ? html`<a href=${href("streams", null, { after: page.next })} rel="next">Next page</a>`
            : html`<span class="muted">End of the log.</span>`}
        </nav>`}
    </section>`;
}

export function StreamPage({ api, session, id, route }) {
  const afterVersion = Number(route.query.get("after_version") || 0);
  const path = `/streams/${encodeURIComponent(id)}/events?limit=${STREAM_PAGE}&after_version=${afterVersion}`;
  const poll = usePoll(() => api.write(path), { every: 0, key: path });
  if (!session.can(EVENTS)) {
    return html`<h1>Stream</h1><${Missing} scope="ordering:events" what="Reading a stream" />`;
  }
  const events = poll.data?.events || [];
  const last = events.length ? events[events.length - 1].version : afterVersion;
  return html`<p class="crumbs"><a href=${href("streams")}>Streams</a> › ${id}</p>
    <h1>Stream ${id}</h1>
    <${Lookup} initial=${id} />
    ${poll.error?.status === 404
      ? html`<p role="alert">No stream has this id.</p>`
      : html`<${Failure} error=${poll.error} what="The stream" />`}
    <${Loading} state=${poll} />
    ${events.length > 0 && html`<p>${events.length} ${events.length === 1 ? "event" : "events"} in this ${events[0].stream_type} stream.</p>
      <${EventsTable} api=${api} events=${events} withStream=${false} />
      ${events.length === STREAM_PAGE && html`<a href=${href("streams", id, { after_version: last })}>Next events</a>`}`}`;
}
