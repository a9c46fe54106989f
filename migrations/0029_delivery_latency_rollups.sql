-- The delivery-latency report (42) read every confirmed outbox row and every event of its period:
-- over a year of traffic (1.2 M deliveries, 1.09 M events) it took 1.85 s. Two running totals,
-- kept in the statements that change what they count, let it read a few thousand rows instead.
--
-- 1. Latencies by local day of decision, recipient and latency bucket. The publisher writes
--    them in the statement that marks rows confirmed (`store::outbox::mark_published`), so a
--    row is counted once, when it first becomes published. A bucket is the latency in whole
--    milliseconds below one second, and to three significant figures above it (10 ms steps to
--    10 s, 100 ms steps to 100 s, ...): a percentile read from it is a bucket's lower bound,
--    under 1 % below the exact value.
CREATE FUNCTION latency_bucket_ms(elapsed interval) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (SELECT CASE WHEN ms < 1000 THEN ms
                        ELSE ms - ms % (10 ^ (floor(log(ms)) - 2))::bigint END
            FROM (SELECT greatest(0, floor(extract(epoch FROM elapsed) * 1000))::bigint AS ms) AS m);

CREATE TABLE delivery_latencies (
    day         date   NOT NULL,
    recipient   text   NOT NULL,
    bucket_ms   bigint NOT NULL,
    deliveries  bigint NOT NULL,
    PRIMARY KEY (day, recipient, bucket_ms)
);

INSERT INTO delivery_latencies (day, recipient, bucket_ms, deliveries)
SELECT (decided_at AT TIME ZONE 'Europe/London')::date, recipient, latency_bucket_ms(published_at - decided_at), count(*)
FROM outbox WHERE published_at IS NOT NULL
GROUP BY 1, 2, 3;

-- 2. Events recorded by local day. Events are never deleted (erasure blanks their contents), so
--    a count kept at insert stays exact. A statement trigger over the inserted rows adds one
--    small upsert per batch, whichever path stores events. The share matched automatically is
--    then this total less the few unmatched events, found by the partial index below.
CREATE TABLE events_recorded_daily (
    day     date   PRIMARY KEY,
    events  bigint NOT NULL
);

CREATE FUNCTION count_recorded_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events_recorded_daily (day, events)
    SELECT (recorded_at AT TIME ZONE 'Europe/London')::date, count(*) FROM recorded GROUP BY 1 ORDER BY 1
    ON CONFLICT (day) DO UPDATE SET events = events_recorded_daily.events + excluded.events;
    RETURN NULL;
END $$;

CREATE TRIGGER events_count_recorded AFTER INSERT ON events
    REFERENCING NEW TABLE AS recorded FOR EACH STATEMENT EXECUTE FUNCTION count_recorded_events();

INSERT INTO events_recorded_daily (day, events)
SELECT (recorded_at AT TIME ZONE 'Europe/London')::date, count(*) FROM events GROUP BY 1;

-- Events held without a person (awaiting a decision on a conflict, or erased), by recording day.
CREATE INDEX events_unmatched_day ON events (((recorded_at AT TIME ZONE 'Europe/London')::date))
    WHERE subject_id IS NULL;
