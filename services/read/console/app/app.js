// The frame of every page: the navigation, who is signed in, and the page of the route.
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { OPERATE, QUERY } from "./auth.js";
import { DeadLetterPage, DeadLettersPage } from "./pages/dead_letters.js";
import { OverviewPage } from "./pages/overview.js";
import { ProcessPage, ProcessesPage } from "./pages/processes.js";
import { ProjectionPage } from "./pages/projection.js";
import { StockPage } from "./pages/stock.js";
import { StreamPage, StreamsPage } from "./pages/streams.js";
import { href, useRoute } from "./router.js";
import { Notice } from "./widgets.js";

const PAGES = [
  ["overview", "Overview"],
  ["dead-letters", "Dead letters"],
  ["streams", "Streams"],
  ["processes", "Processes"],
  ["stock", "Stock"],
];

function page(route, props) {
  const { id } = route;
  switch (route.page) {
    case "projections":
      return html`<${ProjectionPage} ...${props} name=${id} />`;
    case "dead-letters":
      return id
        ? html`<${DeadLetterPage} ...${props} id=${id} />`
        : html`<${DeadLettersPage} ...${props} />`;
    case "streams":
      return id
        ? html`<${StreamPage} ...${props} id=${id} />`
        : html`<${StreamsPage} ...${props} />`;
    case "processes":
      return id
        ? html`<${ProcessPage} ...${props} id=${id} />`
        : html`<${ProcessesPage} ...${props} />`;
    case "stock":
      return html`<${StockPage} ...${props} />`;
    default:
      return html`<${OverviewPage} ...${props} />`;
  }
}

function SignIn({ session }) {
  return html`<main id="main" class="page sign-in">
    <h1>Ordering console</h1>
    ${session.error && html`<p class="error" role="alert">${session.error}</p>`}
    <p>Sign in with your organisation's account to see the projections, dead letters, streams,
      processes and stock of the ordering services.</p>
    <button class="primary" onClick=${() => session.signIn()}>Sign in</button>
  </main>`;
}

function Header({ session, route }) {
  const current = route.page === "projections" ? "overview" : route.page;
  const scopes = [...session.scopes].filter((s) => s.startsWith("ordering:")).sort();
  return html`<header class="top">
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>Skip to content</a>
    <span class="brand">Ordering console</span>
    <nav aria-label="Pages"><ul>
      ${PAGES.map(
        ([name, label]) => html`<li><a href=${href(name)}
          aria-current=${current === name ? "page" : undefined}>${label}</a></li>`,
      )}
    </ul></nav>
    <div class="who">
      <span title=${`scopes: ${scopes.join(" ") || "none"}`}>Signed in as <strong data-testid="user">${session.name}</strong></span>
      <span class="scopes" title="the scopes of your token">${scopes.join(" ") || "no ordering scope"}</span>
      ${!session.disabled && html`<button onClick=${() => session.signOut()}>Sign out</button>`}
    </div>
  </header>`;
}

export function App({ session, api, config }) {
  const route = useRoute();
  const [, setVersion] = useState(0);
  useEffect(() => session.subscribe(() => setVersion((v) => v + 1)), [session]);
  useEffect(() => {
    const heading = document.querySelector("main h1");
    document.title = `${heading ? heading.textContent : "Console"} · Ordering console`;
  });
  if (!session.signedIn) return html`<${SignIn} session=${session} />`;
  const reads = session.can(QUERY) || session.can(OPERATE);
  return html`<${Header} session=${session} route=${route} />
    <main id="main" class="page" tabindex="-1">
      ${reads
        ? page(route, { api, session, config, route })
        : html`<h1>No access</h1><${Notice}>Your token has neither <code>ordering:query</code> nor
            <code>ordering:operate</code>: the console cannot read anything for you. Ask for
            access, or sign in as someone else.<//>`}
    </main>`;
}
