// An operator's action: a button that runs it once, then says how it went (in a live region,
// so that a screen reader hears it too).
import { html } from "htm/preact";
import { useState } from "preact/hooks";

export function useAction(after = () => {}) {
  const [state, setState] = useState({ busy: false, message: null, failed: false });
  async function run(action, success) {
    setState({ busy: true, message: null, failed: false });
    try {
      const answer = await action();
      setState({ busy: false, message: success(answer), failed: false });
      after(answer);
    } catch (error) {
      setState({ busy: false, message: `Refused: ${error.message}`, failed: true });
    }
  }
  return [state, run];
}

export function Outcome({ state }) {
  return html`<p class=${state.failed ? "error" : "outcome"} role="status" aria-live="polite">
    ${state.message || ""}</p>`;
}
