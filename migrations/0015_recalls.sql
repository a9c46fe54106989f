-- DPA 2018 s.38(5)(c): a disclosure found unlawful or mistaken is recalled. An operator or an
-- auditor marks one delivery (by its message id); the recipient is sent an erasure notice naming
-- it (outbox kind 'erasure', refers_to the delivery), and the disclosure log records the recall
-- (stage 'recalled', decision withhold, reason unlawful or mistaken), which also stops the pair
-- being decided again.
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('delivery', 'retraction', 'erasure'));
ALTER TABLE disclosure_log DROP CONSTRAINT disclosure_log_stage_check;
ALTER TABLE disclosure_log ADD CONSTRAINT disclosure_log_stage_check
    CHECK (stage IN ('decided', 'redecided', 'retracted', 'recalled', 'published'));
