-- Durable job queue (see kalei_store::jobs). Times are unix milliseconds.
-- Keep in lockstep with ../sqlite/0100_jobs.sql (a test compares them).
--
-- state: available | scheduled | running | retryable | completed | cancelled | discarded.
-- available/scheduled/retryable are all claimable once run_at has passed
-- (scheduled = enqueued for later, retryable = waiting out a backoff).
-- payload is JSON carrying ids only, never raw user text.
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,
    queue            TEXT NOT NULL,
    state            TEXT NOT NULL,
    payload          TEXT NOT NULL,
    user_id          TEXT,
    unique_key       TEXT,
    attempt          BIGINT NOT NULL DEFAULT 0,
    max_attempts     BIGINT NOT NULL,
    timeout_ms       BIGINT NOT NULL,
    run_at           BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    attempted_at     BIGINT,
    finalized_at     BIGINT,
    attempted_by     TEXT,
    lease_token      TEXT,
    lease_expires_at BIGINT,
    last_error       TEXT
);

-- Claiming: the due jobs of one queue in run_at order.
CREATE INDEX jobs_claim_idx ON jobs (queue, run_at, id)
    WHERE state IN ('available', 'scheduled', 'retryable');
-- Unique keys hold while a job is pending, running or completed (as River):
-- a cancelled or discarded job does not block a new one with the same key.
CREATE UNIQUE INDEX jobs_unique_key_idx ON jobs (unique_key)
    WHERE unique_key IS NOT NULL
      AND state IN ('available', 'scheduled', 'running', 'retryable', 'completed');
-- The rescuer: running jobs whose lease expired.
CREATE INDEX jobs_lease_idx ON jobs (lease_expires_at) WHERE state = 'running';
-- Admin listing by state (newest first) and depth gauges.
CREATE INDEX jobs_state_idx ON jobs (state, queue, id);
-- Pruning of finished jobs.
CREATE INDEX jobs_finalized_idx ON jobs (state, finalized_at) WHERE finalized_at IS NOT NULL;
-- Account deletion removes a user's pending jobs.
CREATE INDEX jobs_user_idx ON jobs (user_id) WHERE user_id IS NOT NULL;

-- Cron schedules: the next tick of each, advanced by compare-and-set so two
-- leaders (or a restart) cannot enqueue one tick twice.
CREATE TABLE job_schedules (
    name         TEXT PRIMARY KEY,
    spec         TEXT NOT NULL,
    next_tick_at BIGINT NOT NULL,
    last_tick_at BIGINT,
    updated_at   BIGINT NOT NULL
);

-- Leader leases (cron, pruning, gauges run on one worker process at a time).
CREATE TABLE job_leaders (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
