-- Privacy: consents (current state and history), account deletion requests,
-- product analytics events. Times are unix ms. Keep in lockstep with
-- ../postgres/0600_privacy.sql (a test compares them).

-- The current answer per user and purpose (analytics, ai_processing_remote,
-- marketing). A purpose with no row takes the configured default.
CREATE TABLE user_consents (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL,
    granted    BIGINT NOT NULL,
    version    TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, purpose)
);

-- Every change of a consent, append-only, as evidence of what was agreed
-- to (which policy version) and when.
CREATE TABLE consent_events (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL,
    granted    BIGINT NOT NULL,
    version    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX consent_events_user_idx ON consent_events (user_id, created_at);

-- A pending account deletion (at most one per user). The purge job's
-- payload names the request id, never the user, so the finished job row
-- keeps no reference to a purged account.
CREATE TABLE account_deletions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    requested_at BIGINT NOT NULL,
    purge_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX account_deletions_user_key ON account_deletions (user_id);

-- Product events, recorded only with the user's `analytics` consent.
-- properties is JSON without user text or ids of user content. user_id is
-- nullable: retention anonymises old events and keeps the counts.
CREATE TABLE analytics_events (
    id         TEXT PRIMARY KEY,
    user_id    TEXT,
    name       TEXT NOT NULL,
    properties TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);
CREATE INDEX analytics_events_user_idx ON analytics_events (user_id, created_at);
CREATE INDEX analytics_events_created_idx ON analytics_events (created_at);
