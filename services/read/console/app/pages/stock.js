// Stock: the tracked SKUs low in stock (fewer units available than a threshold).
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { usePoll } from "../poll.js";
import { href } from "../router.js";
import { Failure, Loading, number } from "../widgets.js";

const DEFAULT_BELOW = 10;

export function StockPage({ api, route }) {
  const below = Number(route.query.get("below") ?? DEFAULT_BELOW);
  const cursor = route.query.get("cursor") || "";
  const query = `?available_below=${below}&limit=100${cursor ? `&cursor=${cursor}` : ""}`;
  const poll = usePoll(() => api.read(`/stock${query}`), { every: 10000, key: query });
  const items = poll.data?.items || [];
  // what is typed stays as typed while the list refreshes, until it is shown
  const [typed, setTyped] = useState(String(below));
  useEffect(() => setTyped(String(below)), [below]);
  const submit = (e) => {
    e.preventDefault();
    location.hash = href("stock", null, { below: typed });
  };
  return html`<h1>Stock</h1>
    <form class="inline" onSubmit=${submit}>
      <label for="below">Fewer units available than</label>
      <input id="below" name="below" type="number" min="0" step="1" required value=${typed}
        onInput=${(e) => setTyped(e.target.value)} />
      <button type="submit">Show</button>
    </form>
    <${Failure} error=${poll.error} what="The stock" />
    <${Loading} state=${poll} />
    ${poll.data && !items.length && html`<p>No tracked SKU has fewer than ${number(below)} units available.</p>`}
    ${items.length > 0 && html`<div class="scroll"><table class="grid">
      <caption class="sr-only">Low-stock SKUs</caption>
      <thead><tr><th scope="col">SKU</th><th scope="col">On hand</th><th scope="col">Reserved</th>
        <th scope="col">Available</th></tr></thead>
      <tbody>${items.map((item) => html`<tr data-sku=${item.sku}>
        <th scope="row">${item.sku}</th><td class="num">${number(item.on_hand)}</td>
        <td class="num">${number(item.reserved)}</td><td class="num">${number(item.available)}</td>
      </tr>`)}</tbody></table></div>`}
    ${poll.data?.next_cursor && html`<nav class="pager" aria-label="Stock pages">
      <a href=${href("stock", null, { below, cursor: poll.data.next_cursor })} rel="next">Next page</a></nav>`}`;
}
