-- Spectrum: weekly and monthly aggregates with their insights. Built from the
-- derived tables of 0400 only; the insight text is generated from these
-- aggregates (never from raw writing) and checked against the user's text of
-- the period before it is stored. Keep in lockstep with
-- ../sqlite/0410_spectrum_aggregates.sql.

-- One row per user and local week (week_start = the local Monday).
CREATE TABLE spectrum_weekly (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    week_start     TEXT NOT NULL,
    iso_week       TEXT NOT NULL,
    sessions       BIGINT NOT NULL,
    turns          BIGINT NOT NULL,
    aggregates     TEXT NOT NULL,
    insight        TEXT NOT NULL,
    insight_status TEXT NOT NULL,
    model          TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    attempts       BIGINT NOT NULL,
    computed_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX spectrum_weekly_user_week_key ON spectrum_weekly (user_id, week_start);

-- One row per user and local month (YYYY-MM).
CREATE TABLE spectrum_monthly (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    month          TEXT NOT NULL,
    sessions       BIGINT NOT NULL,
    turns          BIGINT NOT NULL,
    aggregates     TEXT NOT NULL,
    insight        TEXT NOT NULL,
    insight_status TEXT NOT NULL,
    model          TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    attempts       BIGINT NOT NULL,
    computed_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX spectrum_monthly_user_month_key ON spectrum_monthly (user_id, month);
