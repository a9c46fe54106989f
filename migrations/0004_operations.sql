-- Operations: refusals resolved by a replay or reprocess (or purged by an operator).
ALTER TABLE refusals ADD COLUMN resolved_at timestamptz;
ALTER TABLE refusals ADD COLUMN resolution text CHECK (resolution IN ('reprocessed', 'purged'));
ALTER TABLE refusals ADD COLUMN resolved_by text;
CREATE INDEX refusals_open ON refusals (refused_at) WHERE resolved_at IS NULL;
