-- AI gateway (kalei-ai): metering and the prompt registry. Times are unix ms.
-- Keep in lockstep with ../postgres/0200_ai.sql (a test compares them).

-- One row per attempt: remote HTTP attempts (failed ones too), local
-- generations, cache hits and budget denials. Aggregate data: it holds a
-- hash of the user id (user_hash), never the id itself, and never any text.
-- cost_nanos is NULL when the cost is unknown (no usage.cost, no price).
CREATE TABLE ai_usage_events (
    id             TEXT PRIMARY KEY,
    call_id        TEXT NOT NULL,
    attempt        BIGINT NOT NULL,
    user_hash      TEXT NOT NULL,
    feature        TEXT NOT NULL,
    target         TEXT NOT NULL,
    provider       TEXT NOT NULL,
    model          TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    config_hash    TEXT NOT NULL,
    tokens_in      BIGINT NOT NULL,
    tokens_out     BIGINT NOT NULL,
    cost_nanos     BIGINT,
    latency_ms     BIGINT NOT NULL,
    provider_ms    BIGINT NOT NULL,
    outcome        TEXT NOT NULL,
    streamed       BIGINT NOT NULL,
    created_at     BIGINT NOT NULL
);
-- Admin reports by time range (cost per day/feature/model) and per user hash.
CREATE INDEX ai_usage_events_created_idx ON ai_usage_events (created_at);
CREATE INDEX ai_usage_events_user_idx ON ai_usage_events (user_hash, created_at);

-- Every prompt revision (versioned by content hash) and when it first became
-- active; text holds the system and user templates and the output schema.
CREATE TABLE prompt_revisions (
    name         TEXT NOT NULL,
    version      TEXT NOT NULL,
    text         TEXT NOT NULL,
    activated_at BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);
