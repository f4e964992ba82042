-- Spectrum: derived per-item vectors (no text). Keep in lockstep with
-- ../postgres/0400_spectrum.sql.

-- One row per analysed Mirror session.
CREATE TABLE spectrum_session_vectors (
    session_id        TEXT PRIMARY KEY REFERENCES mirror_sessions (id) ON DELETE CASCADE,
    user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    local_date        TEXT NOT NULL,
    valence           DOUBLE PRECISION NOT NULL,
    arousal           DOUBLE PRECISION NOT NULL,
    emotions          TEXT NOT NULL,
    distortion_counts TEXT NOT NULL,
    message_count     BIGINT NOT NULL,
    word_count        BIGINT NOT NULL,
    analysed_at       BIGINT NOT NULL
);
CREATE INDEX spectrum_session_vectors_user_idx ON spectrum_session_vectors (user_id, local_date);

-- One row per analysed Turn.
CREATE TABLE spectrum_turn_impacts (
    turn_id         TEXT PRIMARY KEY REFERENCES turns (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    local_date      TEXT NOT NULL,
    distortions     TEXT NOT NULL,
    belief_before   BIGINT,
    belief_after    BIGINT,
    polarity_before DOUBLE PRECISION NOT NULL,
    polarity_after  DOUBLE PRECISION,
    saved           BIGINT NOT NULL DEFAULT 0,
    analysed_at     BIGINT NOT NULL
);
CREATE INDEX spectrum_turn_impacts_user_idx ON spectrum_turn_impacts (user_id, local_date);
