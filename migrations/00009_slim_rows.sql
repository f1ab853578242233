-- A smaller row: the `record` column (the whole message, as json) goes. It held half of every
-- row's bytes (932 of 1,923 on the newest snapshot) and repeated what the typed columns hold and
-- what the weapon topics keep for ever (the row's kafka_topic, kafka_partition and kafka_offset
-- point at the very message). The one thing only it held, where the raw record was read on
-- weapon_data, stays in the new column `source` ({"topic", "partition", "offset"}). A field
-- added to the weapons later gets a column of its own, filled from the topics by
-- `mhfz sink --replay`. Keep sink/columns.go in step (it writes `source` last).
--
-- The <table>_current views are dropped and created again (a view holds the columns its * had
-- when it was created, and a column a view uses cannot be dropped). The rows of existing tables
-- keep the dropped column's bytes until they are written again; `VACUUM FULL <table>` gives the
-- space back at once (it locks the table meanwhile).

-- +goose Up
-- +goose StatementBegin
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['great_sword', 'long_sword', 'sword_and_shield', 'dual_swords', 'hammer',
            'hunting_horn', 'lance', 'gunlance', 'tonfa', 'switch_axe_f', 'magnet_spike', 'light_bowgun',
            'heavy_bowgun', 'bow', 'partner_weapon'] LOOP
        EXECUTE format('ALTER TABLE %I ADD COLUMN source jsonb', t);
        EXECUTE format($u$UPDATE %I SET source = record::jsonb -> 'source'$u$, t);
        EXECUTE format('DROP VIEW %I', t || '_current');
        EXECUTE format('ALTER TABLE %I DROP COLUMN record', t);
        EXECUTE format('CREATE VIEW %I AS SELECT DISTINCT ON (key) * FROM %I ORDER BY key, version DESC',
            t || '_current', t);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- The messages cannot be had back from the rows: `record` comes back empty (NULL), and
-- `mhfz sink --replay` of the build before this migration fills it again from the weapon topics.
-- +goose StatementBegin
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['great_sword', 'long_sword', 'sword_and_shield', 'dual_swords', 'hammer',
            'hunting_horn', 'lance', 'gunlance', 'tonfa', 'switch_axe_f', 'magnet_spike', 'light_bowgun',
            'heavy_bowgun', 'bow', 'partner_weapon'] LOOP
        EXECUTE format('DROP VIEW %I', t || '_current');
        EXECUTE format('ALTER TABLE %I DROP COLUMN source', t);
        -- After quality, not before it as 00001 had it: the sink names the columns it writes.
        EXECUTE format('ALTER TABLE %I ADD COLUMN record json', t);
        EXECUTE format('CREATE VIEW %I AS SELECT DISTINCT ON (key) * FROM %I ORDER BY key, version DESC',
            t || '_current', t);
    END LOOP;
END
$$;
-- +goose StatementEnd
