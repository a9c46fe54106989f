-- Reports over a store of millions of disclosures.
--
-- Reports 35 and 38 count disclosure-log entries by day, recipient and kind. The log grows by
-- every (update, recipient) decided — several million rows for a million events — so they read a
-- daily rollup instead, kept by a statement-level trigger (one upsert per log append, however
-- many entries it holds). Empty strings stand for "none" so the key is unique without NULLs.
-- The log is append-only (edits are what `tracker audit verify` exists to find), so inserts are
-- all the rollup has to follow.
CREATE TABLE disclosure_daily (
    day        date   NOT NULL,
    recipient  text   NOT NULL,
    stage      text   NOT NULL,
    decision   text   NOT NULL,
    reason     text   NOT NULL,
    agreement  text   NOT NULL,
    purpose    text   NOT NULL,
    data_class text   NOT NULL,
    entries    bigint NOT NULL,
    PRIMARY KEY (day, recipient, stage, decision, reason, agreement, purpose, data_class)
);

CREATE FUNCTION disclosure_daily_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO disclosure_daily AS d (day, recipient, stage, decision, reason, agreement, purpose, data_class, entries)
    SELECT (logged_at AT TIME ZONE 'Europe/London')::date, recipient, stage, decision, coalesce(reason, ''),
           coalesce(agreement, ''), coalesce(purpose, ''), data_class, count(*)
    FROM appended GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
    ON CONFLICT (day, recipient, stage, decision, reason, agreement, purpose, data_class)
    DO UPDATE SET entries = d.entries + excluded.entries;
    RETURN NULL;
END $$;

CREATE TRIGGER disclosure_daily_add AFTER INSERT ON disclosure_log
    REFERENCING NEW TABLE AS appended FOR EACH STATEMENT EXECUTE FUNCTION disclosure_daily_add();

INSERT INTO disclosure_daily (day, recipient, stage, decision, reason, agreement, purpose, data_class, entries)
SELECT (logged_at AT TIME ZONE 'Europe/London')::date, recipient, stage, decision, coalesce(reason, ''),
       coalesce(agreement, ''), coalesce(purpose, ''), data_class, count(*)
FROM disclosure_log GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;

-- Report 10 matches each executed warrant to the person's latest earlier issued one.
CREATE INDEX warrants_issued_subject ON warrants (subject_id, at) WHERE action = 'issued';
