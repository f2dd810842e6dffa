// Pieces every page uses: notices, errors, the time since, numbers, a small lag chart.
import { html } from "htm/preact";

export function Notice({ children }) {
  return html`<p class="notice" role="note">${children}</p>`;
}

export function Failure({ error, what = "This" }) {
  if (!error) return null;
  const why =
    error.status === 403
      ? "your token lacks the scope it needs"
      : error.status === 401
        ? "your token was refused: sign in again"
        : error.message;
  return html`<p class="error" role="alert">${what} could not be read: ${why}.</p>`;
}

export function Missing({ scope, what }) {
  return html`<${Notice}>${what} needs the scope <code>${scope}</code>, which your token does not
    have.<//>`;
}

export function Loading({ state }) {
  return state.loading && !state.data ? html`<p class="muted">Loading…</p>` : null;
}

export const number = (value) =>
  value === null || value === undefined ? "–" : Number(value).toLocaleString("en");

export function seconds(value) {
  if (value === null || value === undefined) return "–";
  if (value < 60) return `${Number(value).toFixed(value < 10 ? 1 : 0)} s`;
  if (value < 3600) return `${Math.floor(value / 60)} min ${Math.round(value % 60)} s`;
  return `${(value / 3600).toFixed(1)} h`;
}

export function when(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  return html`<time datetime=${date.toISOString()}>${date.toLocaleString("en-GB")}</time>`;
}

export function Actor({ actor }) {
  if (!actor) return html`<span class="muted">–</span>`;
  const parts = [actor.subject, actor.client_id && `client ${actor.client_id}`];
  if (actor.customer_id) parts.push(`customer ${actor.customer_id}`);
  return html`<span class="actor">${parts.filter(Boolean).join(", ")}</span>`;
}

/** A line chart of the latest samples, with its figures said in words for screen readers. */
export function Sparkline({ values, label, width = 120, height = 28 }) {
  if (values.length < 2) return html`<span class="muted">gathering…</span>`;
  const top = Math.max(1, ...values);
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const points = values
    .map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / top) * (height - 4)).toFixed(1)}`)
    .join(" ");
  const summary = `${label}: now ${number(values[values.length - 1])}, highest ${number(top)} over the last ${values.length} samples`;
  return html`<svg class="spark" width=${width} height=${height} viewBox="0 0 ${width} ${height}"
    role="img" aria-label=${summary}><title>${summary}</title>
    <polyline points=${points} fill="none" stroke="currentColor" stroke-width="2" /></svg>`;
}

export function Status({ children, kind = "ok" }) {
  return html`<span class="badge badge-${kind}">${children}</span>`;
}
