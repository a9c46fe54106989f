-- Passwords rehashed with Argon2id at a good login, for users whose configured hash is in the
-- hub's earlier PBKDF2 format. Keyed by SHA-256 of (user, configured hash): a new configured hash
-- is used as soon as it is set, and no password or user name is stored in clear.
CREATE TABLE password_upgrades (
    configured_sha256 bytea       PRIMARY KEY,
    phc               text        NOT NULL,
    upgraded_at       timestamptz NOT NULL DEFAULT now()
);
