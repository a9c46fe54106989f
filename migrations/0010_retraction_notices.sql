-- Retraction notices. When records that arrive later show that an update delivered to a recipient
-- should not have gone (an agreement's condition did not hold at the update's time after all), the
-- recipient is sent a notice naming the earlier delivery by its message id. Notices travel through
-- the outbox like deliveries, in decision order; the decision is logged at stage 'retracted'.
-- A pair (update, recipient) may now have several outbox rows over its life: a delivery, its
-- retraction, and a fresh delivery if a later record allows it again (under a new message id).
ALTER TABLE outbox ADD COLUMN kind text NOT NULL DEFAULT 'delivery'
    CHECK (kind IN ('delivery', 'retraction'));
-- For a notice: the message id of the delivery it is about, and why.
ALTER TABLE outbox ADD COLUMN refers_to uuid;
ALTER TABLE outbox ADD COLUMN notice_reason text;
ALTER TABLE outbox ADD CONSTRAINT outbox_notice_refers CHECK ((kind = 'delivery') = (refers_to IS NULL));
ALTER TABLE outbox DROP CONSTRAINT outbox_event_id_recipient_key;
CREATE INDEX outbox_event_recipient ON outbox (event_id, recipient, id);

ALTER TABLE disclosure_log DROP CONSTRAINT disclosure_log_stage_check;
ALTER TABLE disclosure_log ADD CONSTRAINT disclosure_log_stage_check
    CHECK (stage IN ('decided', 'redecided', 'retracted', 'published'));
