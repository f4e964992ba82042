-- Weekly briefs, push devices and notifications (issue 7, items 5 and 6).
-- A brief is a snapshot of the week's Spectrum aggregate and insight (never
-- raw writing) plus the overlay state the client reports. Keep in lockstep
-- with ../sqlite/0500_briefs_notifications.sql.

-- One brief per user and local week (week_start = the local Monday).
CREATE TABLE weekly_briefs (
    id                 TEXT PRIMARY KEY,
    user_id            TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    week_start         TEXT NOT NULL,
    -- `ready` (the week has entries) or `empty` (a friendly quiet-week brief).
    status             TEXT NOT NULL,
    -- JSON built from spectrum_weekly: numbers, top patterns, the insight.
    content            TEXT NOT NULL,
    -- computed_at of the spectrum_weekly row the content was built from; the
    -- verification pass regenerates a brief whose aggregate is newer.
    source_computed_at BIGINT NOT NULL,
    generated_at       BIGINT NOT NULL,
    refreshed_at       BIGINT NOT NULL,
    -- When the server first answered show_overlay = true for this brief.
    first_shown_at     BIGINT,
    -- Last time the user opened it deliberately (GET /v1/briefs/{week}).
    opened_at          BIGINT,
    dismissed_at       BIGINT,
    -- `soft` (this week only) or `hard` (also turned weekly briefs off).
    dismiss_kind       TEXT,
    impressions        BIGINT NOT NULL DEFAULT 0,
    engaged_at         BIGINT,
    engagement_ms      BIGINT NOT NULL DEFAULT 0,
    max_scroll_depth   DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX weekly_briefs_user_week_key ON weekly_briefs (user_id, week_start);

-- Push tokens. The token is sealed like user text (it addresses a person's
-- phone) and never logged; token_hash (BLAKE3, hex) finds an existing row
-- for the idempotent upsert.
CREATE TABLE push_devices (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    platform     TEXT NOT NULL,
    token_sealed BYTEA NOT NULL,
    token_hash   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX push_devices_user_token_key ON push_devices (user_id, token_hash);

-- One row per notification decided for a user; (user, kind, subject) is unique,
-- so "your week is ready" goes out at most once per week even after the
-- job queue has pruned the job that sent it.
CREATE TABLE notifications (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    -- `pending`, `sent` (handed to the push deliveries) or `skipped`.
    status     TEXT NOT NULL,
    -- Why it was skipped (`disabled`, `frequency`, `no_devices`), else null.
    reason     TEXT,
    devices    BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    due_at     BIGINT NOT NULL,
    sent_at    BIGINT
);
CREATE UNIQUE INDEX notifications_user_kind_subject_key ON notifications (user_id, kind, subject);
