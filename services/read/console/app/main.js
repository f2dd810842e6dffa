// The operator console: signs in with the configured OpenID Connect issuer, then shows the
// page of the URL's hash. Every request goes to the two services' own APIs with the token.
import { html, render } from "htm/preact";
import { Api } from "./api.js";
import { App } from "./app.js";
import { Session } from "./auth.js";

const root = document.getElementById("root");

async function start() {
  const answer = await fetch("config.json", { cache: "no-store" });
  if (!answer.ok) throw new Error(`config.json answered ${answer.status}`);
  const config = await answer.json();
  const session = await Session.start(config);
  const api = new Api(session, config);
  root.textContent = "";
  render(html`<${App} session=${session} api=${api} config=${config} />`, root);
}

start().catch((error) => {
  root.textContent = "";
  render(
    html`<main class="page"><h1>Ordering console</h1>
      <p role="alert" class="error">The console could not start: ${String(error.message || error)}</p>
    </main>`,
    root,
  );
});
