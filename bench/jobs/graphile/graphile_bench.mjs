// graphile-worker side of the job-queue benchmark: N no-op jobs inserted in
// one statement, then drained by one worker process at the given
// concurrency; prints one JSON line. Usage:
//   node graphile_bench.mjs <admin-url> <jobs> <concurrency> <unbatched|batched> [async]
// `async` sets synchronous_commit = off on the bench database (as
// queue_bench --pg-async-commit does), to separate the queue from fsync.
// Uses its own database `graphile_bench` (recreated per run) on the same
// Postgres as queue_bench. Bounded: gives up after 120 s.
import pg from "pg";
import { run, Logger } from "graphile-worker";

const [adminUrl, jobsArg, concArg, mode, commitMode] = process.argv.slice(2);
const asyncCommit = commitMode === "async";
const jobs = Number(jobsArg ?? 50000);
const concurrency = Number(concArg ?? 32);
const batched = mode === "batched";
const dbUrlObj = new URL(adminUrl);
dbUrlObj.pathname = "/graphile_bench";
const dbUrl = dbUrlObj.toString();

async function recreate() {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query("DROP DATABASE IF EXISTS graphile_bench WITH (FORCE)");
  await admin.query("CREATE DATABASE graphile_bench");
  if (asyncCommit) {
    await admin.query("ALTER DATABASE graphile_bench SET synchronous_commit = off");
  }
  await admin.end();
}

const quiet = new Logger(() => (level, message) => {
  if (level === "error") console.error(message);
});

await recreate();
const maxPoolSize = Math.min(concurrency + 2, 60);
const preset = {
  worker: {
    connectionString: dbUrl,
    concurrentJobs: concurrency,
    maxPoolSize,
    pollInterval: 1000,
    logger: quiet,
    ...(batched
      ? { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 }
      : {}),
  },
};
let done = 0;
const taskList = {
  noop: async () => {
    done++;
  },
};
// Start once to install the schema, then stop.
{
  const r = await run({ preset, taskList, noHandleSignals: true });
  await r.stop();
}
const pool = new pg.Pool({ connectionString: dbUrl, max: 2 });
await pool.query(
  "select graphile_worker.add_job('noop', json_build_object('id', i)) from generate_series(1, $1) i",
  [jobs],
);
const start = process.hrtime.bigint();
const runner = await run({ preset, taskList, noHandleSignals: true });
const deadline = Date.now() + 120_000;
for (;;) {
  await new Promise((r) => setTimeout(r, 20));
  if (done >= jobs) {
    const { rows } = await pool.query("select count(*)::int as n from graphile_worker.jobs");
    if (rows[0].n === 0) break;
  }
  if (Date.now() > deadline) break;
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
await runner.stop();
const { rows } = await pool.query("select count(*)::int as n from graphile_worker.jobs");
await pool.end();
const completed = jobs - rows[0].n;
console.log(
  JSON.stringify({
    backend: asyncCommit ? "postgres(async commit)" : "postgres",
    system: "graphile-worker@0.17.3",
    scenario: "drain",
    mode: batched ? "batched" : "unbatched",
    concurrency,
    max_pool_size: maxPoolSize,
    jobs: completed,
    seconds,
    jobs_per_sec: Math.round(completed / seconds),
  }),
);
