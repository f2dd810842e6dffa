// Live data without reloading, and nothing asked while nobody looks: a load repeated every
// `every` ms while the tab is visible, backing off (doubling, up to a minute) while it fails,
// stopped while the tab is hidden and run at once when it shows again.
import { useEffect, useRef, useState } from "preact/hooks";

const MAX_DELAY_MS = 60_000;

export function usePoll(load, { every = 5000, key = "" } = {}) {
  const [state, setState] = useState({ data: null, error: null, loading: true, at: 0 });
  const [round, setRound] = useState(0);
  const latest = useRef(load);
  latest.current = load;

  useEffect(() => {
    let timer = null;
    let running = false;
    let stopped = false;
    let delay = every;
    setState((s) => ({ ...s, loading: true }));

    async function run() {
      timer = null;
      if (stopped || document.visibilityState !== "visible") return;
      running = true;
      try {
        const data = await latest.current();
        if (stopped) return;
        setState({ data, error: null, loading: false, at: Date.now() });
        delay = every;
      } catch (error) {
        if (stopped) return;
        setState((s) => ({ ...s, error, loading: false }));
        delay = Math.min(Math.max(delay, 1000) * 2, MAX_DELAY_MS);
      } finally {
        running = false;
      }
      if (!stopped && every > 0 && document.visibilityState === "visible") {
        timer = setTimeout(run, delay);
      }
    }

    function visibility() {
      if (document.visibilityState === "visible") {
        if (!timer && !running) run();
      } else if (timer) {
        clearTimeout(timer);
        timer = null;
      }
    }

    document.addEventListener("visibilitychange", visibility);
    run();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      document.removeEventListener("visibilitychange", visibility);
    };
  }, [key, every, round]);

  return { ...state, refresh: () => setRound((r) => r + 1) };
}
