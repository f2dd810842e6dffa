// Calls to the two services' APIs with the session's token; errors carry the status and the
// problem's detail (RFC 9457), so that a page can say what was refused and why.
export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `answered ${status}`);
    this.status = status;
  }
}

async function detailOf(response) {
  try {
    const body = await response.json();
    return body.detail || body.title || `answered ${response.status}`;
  } catch {
    return `answered ${response.status}`;
  }
}

export class Api {
  constructor(session, config) {
    this.session = session;
    this.writeUrl = config.write_service_url;
    this.traceViewer = config.trace_viewer_url;
  }

  async call(url, { method = "GET", text = false, body } = {}) {
    const headers = { Accept: text ? "text/plain" : "application/json" };
    const token = this.session.token;
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        cache: "no-store",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (failure) {
      throw new ApiError(0, `cannot reach ${new URL(url, location.href).origin}`);
    }
    if (!response.ok) throw new ApiError(response.status, await detailOf(response));
    return text ? response.text() : response.json();
  }

  /** The read service (this page's origin). */
  read(path, options) {
    return this.call(path, options);
  }

  /** The write service. */
  write(path, options) {
    return this.call(this.writeUrl + path, options);
  }

  traceLink(traceId) {
    return this.traceViewer && traceId ? this.traceViewer.replace("{trace_id}", traceId) : null;
  }
}

/** The samples of a Prometheus text exposition: [{name, labels, value}]. */
export function parseMetrics(text) {
  const samples = [];
  const line = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/;
  for (const row of text.split("\n")) {
    if (!row || row.startsWith("#")) continue;
    const found = line.exec(row);
    if (!found) continue;
    const labels = {};
    for (const pair of (found[2] || "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]] = pair[2];
    }
    samples.push({ name: found[1], labels, value: Number(found[3]) });
  }
  return samples;
}

export function metric(samples, name, labels = {}) {
  const found = samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return found ? found.value : null;
}
