-- Every operator action (replay, purge, identity decision), with who did it.
CREATE TABLE operator_actions (
    id      bigserial   PRIMARY KEY,
    at      timestamptz NOT NULL,
    actor   text        NOT NULL,
    action  text        NOT NULL,
    target  text        NOT NULL
);
