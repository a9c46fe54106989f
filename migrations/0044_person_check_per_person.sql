-- The person check of migration 0041 (`people_named_exist`) probed `subjects` once per row its
-- statement wrote: 2,500 probes for a batch of five 500-row custody files, in which each person
-- appears three times or more. It now probes once per person named: the same refusal (SQLSTATE
-- 23503, naming one missing person), a third of the probes.
CREATE OR REPLACE FUNCTION people_named_exist() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing uuid;
BEGIN
    SELECT n.subject_id INTO missing
    FROM (SELECT DISTINCT subject_id FROM named WHERE subject_id IS NOT NULL) n
    WHERE NOT EXISTS (SELECT 1 FROM subjects s WHERE s.subject_id = n.subject_id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '% names person %, whom the store does not hold', TG_TABLE_NAME, missing
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
