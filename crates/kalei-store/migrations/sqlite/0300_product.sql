-- Product: preferences, safety events, Mirror, Turn, Gallery, Lens, billing.
-- Raw user text lives only in the *_sealed BLOB columns (column encryption,
-- see kalei-server/src/crypto.rs). Every user-owned table has user_id and
-- its indexes lead with it. Keep in lockstep with ../postgres/0300_product.sql.

CREATE TABLE user_preferences (
    user_id                TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    weekly_brief_enabled   BIGINT NOT NULL DEFAULT 1,
    weekly_brief_frequency TEXT NOT NULL DEFAULT 'weekly',
    reminder_time          TEXT,
    region                 TEXT NOT NULL DEFAULT 'US',
    updated_at             BIGINT NOT NULL
);

-- No text, ever: level, categories, where, when.
CREATE TABLE safety_events (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    feature    TEXT NOT NULL,
    stage      TEXT NOT NULL,
    level      TEXT NOT NULL,
    categories TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX safety_events_user_idx ON safety_events (user_id, created_at);
CREATE INDEX safety_events_created_idx ON safety_events (created_at);

CREATE TABLE mirror_sessions (
    id                TEXT PRIMARY KEY,
    user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status            TEXT NOT NULL,
    started_at        BIGINT NOT NULL,
    closed_at         BIGINT,
    reflection_sealed BLOB,
    reflection_model  TEXT,
    prompt_version    TEXT,
    message_count     BIGINT NOT NULL DEFAULT 0,
    max_crisis_level  TEXT NOT NULL DEFAULT 'none',
    excluded          BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX mirror_sessions_user_idx ON mirror_sessions (user_id, id);

CREATE TABLE mirror_messages (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id     TEXT NOT NULL REFERENCES mirror_sessions (id) ON DELETE CASCADE,
    content_sealed BLOB NOT NULL,
    char_count     BIGINT NOT NULL,
    word_count     BIGINT NOT NULL,
    polarity       DOUBLE PRECISION NOT NULL,
    emotions       TEXT NOT NULL,
    crisis_level   TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX mirror_messages_user_session_idx ON mirror_messages (user_id, session_id, id);

CREATE TABLE mirror_fragments (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id       TEXT NOT NULL REFERENCES mirror_sessions (id) ON DELETE CASCADE,
    message_id       TEXT NOT NULL REFERENCES mirror_messages (id) ON DELETE CASCADE,
    distortion       TEXT NOT NULL,
    start_offset     BIGINT NOT NULL,
    end_offset       BIGINT NOT NULL,
    confidence       DOUBLE PRECISION NOT NULL,
    explanation      TEXT NOT NULL,
    reframes_sealed  BLOB,
    reframe_model    TEXT,
    prompt_version   TEXT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX mirror_fragments_user_message_idx ON mirror_fragments (user_id, message_id);
CREATE INDEX mirror_fragments_user_session_idx ON mirror_fragments (user_id, session_id);

CREATE TABLE turns (
    id                  TEXT PRIMARY KEY,
    user_id             TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    thought_sealed      BLOB NOT NULL,
    result_sealed       BLOB,
    distortions         TEXT NOT NULL,
    polarity            DOUBLE PRECISION NOT NULL,
    emotions            TEXT NOT NULL,
    crisis_level        TEXT NOT NULL,
    belief_before       BIGINT,
    belief_after        BIGINT,
    chosen_reframe      BIGINT,
    model               TEXT,
    provider            TEXT,
    prompt_version      TEXT,
    saved_at            BIGINT,
    excluded            BIGINT NOT NULL DEFAULT 0,
    created_at          BIGINT NOT NULL
);
CREATE INDEX turns_user_idx ON turns (user_id, id);

CREATE TABLE gallery_items (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    turn_id      TEXT REFERENCES turns (id) ON DELETE CASCADE,
    session_id   TEXT REFERENCES mirror_sessions (id) ON DELETE CASCADE,
    include_text BIGINT NOT NULL DEFAULT 0,
    emotions     TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX gallery_items_user_idx ON gallery_items (user_id, id);
CREATE UNIQUE INDEX gallery_items_turn_key ON gallery_items (user_id, turn_id);
CREATE UNIQUE INDEX gallery_items_session_key ON gallery_items (user_id, session_id);

CREATE TABLE lens_goals (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title_sealed BLOB NOT NULL,
    created_at   BIGINT NOT NULL,
    archived_at  BIGINT
);
CREATE INDEX lens_goals_user_idx ON lens_goals (user_id, id);

CREATE TABLE lens_actions (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    goal_id        TEXT NOT NULL REFERENCES lens_goals (id) ON DELETE CASCADE,
    title_sealed   BLOB NOT NULL,
    completed_at   BIGINT,
    completed_day  TEXT,
    created_at     BIGINT NOT NULL
);
CREATE INDEX lens_actions_user_goal_idx ON lens_actions (user_id, goal_id, id);
CREATE INDEX lens_actions_user_day_idx ON lens_actions (user_id, completed_day);

-- Generated once per user and local day (not personal text: generated).
CREATE TABLE lens_affirmations (
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    local_date     TEXT NOT NULL,
    text           TEXT NOT NULL,
    model          TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (user_id, local_date)
);

CREATE TABLE subscriptions (
    user_id                 TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    plan                    TEXT NOT NULL,
    store                   TEXT NOT NULL,
    original_transaction_id TEXT,
    status                  TEXT NOT NULL,
    expires_at              BIGINT,
    updated_at              BIGINT NOT NULL
);
CREATE UNIQUE INDEX subscriptions_store_txn_key ON subscriptions (store, original_transaction_id);

CREATE TABLE billing_events (
    id              TEXT PRIMARY KEY,
    user_id         TEXT,
    store           TEXT NOT NULL,
    notification_id TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX billing_events_notification_key ON billing_events (store, notification_id);
CREATE INDEX billing_events_user_idx ON billing_events (user_id, created_at);

CREATE TABLE entitlement_snapshots (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    plan       TEXT NOT NULL,
    reason     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX entitlement_snapshots_user_idx ON entitlement_snapshots (user_id, created_at);
