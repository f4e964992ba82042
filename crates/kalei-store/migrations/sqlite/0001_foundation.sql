-- Foundation: users, profiles, identities, auth sessions and refresh tokens,
-- audit events, idempotency records. Times are unix milliseconds (BIGINT).
-- Keep in lockstep with ../postgres/0001_foundation.sql (a test compares them).

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    password_hash TEXT,
    role          TEXT NOT NULL DEFAULT 'user',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE profiles (
    user_id      TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    display_name TEXT,
    timezone     TEXT NOT NULL DEFAULT 'UTC',
    locale       TEXT NOT NULL DEFAULT 'en',
    updated_at   BIGINT NOT NULL
);

-- Social sign-in: one row per (provider, subject).
CREATE TABLE user_identities (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider   TEXT NOT NULL,
    subject    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, provider)
);
CREATE UNIQUE INDEX user_identities_provider_subject_key ON user_identities (provider, subject);

-- One auth session per signed-in device; it is also the refresh-token family.
CREATE TABLE auth_sessions (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_name   TEXT,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    revoke_reason TEXT
);
CREATE INDEX auth_sessions_user_idx ON auth_sessions (user_id, created_at);

-- Refresh tokens are stored only as SHA-256 hashes.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id TEXT NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id, session_id);

-- user_id is nullable: a failed sign-in for an unknown email has no user.
CREATE TABLE audit_events (
    id         TEXT PRIMARY KEY,
    user_id    TEXT,
    kind       TEXT NOT NULL,
    ip_hash    TEXT,
    detail     TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);
CREATE INDEX audit_events_user_idx ON audit_events (user_id, created_at);
CREATE INDEX audit_events_created_idx ON audit_events (created_at);

-- Stored responses for Idempotency-Key replays. scope is the user id (or a
-- hash of the client for anonymous calls).
CREATE TABLE idempotency_keys (
    user_id       TEXT NOT NULL,
    idem_key      TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status        BIGINT,
    response_body BLOB,
    content_type  TEXT,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (user_id, idem_key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
