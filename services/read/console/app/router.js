// Hash routing: every page has a URL to share, e.g. #/projections/sales or
// #/processes?state=suspended.
import { useEffect, useState } from "preact/hooks";

export function parseRoute(hash) {
  const [path, search = ""] = (hash.replace(/^#/, "") || "/overview").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || "overview", id: parts[1] || null, query: new URLSearchParams(search) };
}

export function useRoute() {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const changed = () => setRoute(parseRoute(location.hash));
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return route;
}

export function href(page, id = null, query = {}) {
  const search = new URLSearchParams(
    Object.entries(query).filter(([, value]) => value !== null && value !== undefined && value !== ""),
  ).toString();
  return `#/${page}${id ? `/${encodeURIComponent(id)}` : ""}${search ? `?${search}` : ""}`;
}
