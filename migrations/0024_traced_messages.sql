-- The publisher looks up the trace context (`traceparent`) an inbound message came with, for the
-- deliveries made from it. Few messages carry one; a partial index over those alone makes the
-- look-up a probe of a small index (empty when no agency sends trace context) rather than a
-- reading of the archive row of every delivery's message.
CREATE INDEX raw_archive_traced ON raw_archive (agency, message_id, id) WHERE headers ? 'traceparent';
