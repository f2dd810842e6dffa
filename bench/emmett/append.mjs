// The append part's Emmett peer: getPostgreSQLEventStore(url).appendToStream from concurrent
// writers, the same mix as bench/append.py's WriterStreams (odd steps start a stream with
// OrderPlaced, even steps append OrderItemAdded to one of the writer's own streams, one event
// per append, at the expected version). Reads one JSON object on stdin:
//   {url, writers, seconds, placed: [data...], added: [data...], metadata: [object...]}
// and prints one JSON line: {events, seconds, schema_seconds, warm_seconds, cpu_seconds,
// conflicts}, cpu_seconds being this process's own over the timed appends.
import { randomUUID } from "node:crypto";
import { getPostgreSQLEventStore } from "@event-driven-io/emmett-postgresql";

const readStdin = async () => {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
};

// A small seeded generator, so that each writer picks its streams the same way every round.
const random = (seed) => {
  let state = seed + 0x6d2b79f5;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

const writer = async (store, config, seed, deadline) => {
  const pick = random(seed);
  const ids = [];
  const versions = new Map();
  let steps = 0;
  let count = 0;
  let conflicts = 0;
  while (performance.now() < deadline) {
    steps += 1;
    const fresh = steps % 2 === 1 || ids.length === 0;
    const stream = fresh ? `order-${randomUUID()}` : ids[Math.floor(pick() * ids.length)];
    const expected = fresh ? 0n : versions.get(stream);
    const payloads = fresh ? config.placed : config.added;
    const event = {
      type: fresh ? "OrderPlaced" : "OrderItemAdded",
      data: payloads[steps % payloads.length],
      metadata: config.metadata[count % config.metadata.length],
    };
    try {
      const done = await store.appendToStream(stream, [event], { expectedStreamVersion: expected });
      if (fresh) ids.push(stream);
      versions.set(stream, done.nextExpectedStreamVersion);
      count += 1;
    } catch (error) {
      if (error?.name !== "ExpectedVersionConflictError") throw error;
      conflicts += 1; // never expected: each stream has one writer
    }
  }
  return { count, conflicts };
};

const main = async () => {
  const config = await readStdin();
  const store = getPostgreSQLEventStore(config.url);
  try {
    let started = performance.now();
    await store.schema.migrate();
    const schemaSeconds = (performance.now() - started) / 1000;
    // One call per writer at once: the pool opens its connections before the clock starts.
    started = performance.now();
    const warm = Array.from({ length: config.writers }, () => store.streamExists("order-warm"));
    await Promise.all(warm);
    const warmSeconds = (performance.now() - started) / 1000;
    started = performance.now();
    const cpu = process.cpuUsage();
    const deadline = started + config.seconds * 1000;
    const seeds = Array.from({ length: config.writers }, (_, n) => n);
    const runs = await Promise.all(seeds.map((n) => writer(store, config, n, deadline)));
    const seconds = (performance.now() - started) / 1000;
    const spent = process.cpuUsage(cpu);
    const cpuSeconds = (spent.user + spent.system) / 1e6;
    const events = runs.reduce((sum, run) => sum + run.count, 0);
    const conflicts = runs.reduce((sum, run) => sum + run.conflicts, 0);
    const result = { events, seconds, schema_seconds: schemaSeconds, warm_seconds: warmSeconds };
    console.log(JSON.stringify({ ...result, cpu_seconds: cpuSeconds, conflicts }));
  } finally {
    await store.close();
  }
};

await main();
