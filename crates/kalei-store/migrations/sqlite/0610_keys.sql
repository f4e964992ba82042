-- Column-encryption key ids that have ever been active for writes. A key
-- stays "in use" (retired_at NULL) until `kalei keys retire` has checked that
-- no sealed value uses it, so a start without that key fails loudly instead
-- of leaving values unreadable. Key material never lives here.
-- Keep in lockstep with ../postgres/0610_keys.sql.

CREATE TABLE encryption_keys (
    id              TEXT PRIMARY KEY,
    first_active_at BIGINT NOT NULL,
    retired_at      BIGINT
);
