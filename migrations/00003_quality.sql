-- The quality column of every weapon table: what the processor's validator found implausible in
-- a version (a JSON array of {"field", "value", "rule"}; NULL when nothing), stored as the site
-- shows it rather than dead-lettered. Keep sink/columns.go in step (it writes the column last).
--
-- The <table>_current views are `SELECT DISTINCT ON (key) *`: PostgreSQL expands a view's * when
-- the view is created, so they are created again to show the new column. The <table>_history
-- functions return SETOF <table> and are SQL functions, whose * is expanded at each call: they
-- follow the table without change.

-- +goose Up
-- +goose StatementBegin
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['great_sword', 'long_sword', 'sword_and_shield', 'dual_swords',
            'hammer', 'hunting_horn', 'lance', 'gunlance', 'tonfa', 'switch_axe_f', 'magnet_spike',
            'light_bowgun', 'heavy_bowgun', 'bow', 'partner_weapon'] LOOP
        EXECUTE format('ALTER TABLE %I ADD COLUMN quality jsonb', t);
        EXECUTE format('CREATE OR REPLACE VIEW %I AS SELECT DISTINCT ON (key) * FROM %I ORDER BY key, version DESC',
            t || '_current', t);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['great_sword', 'long_sword', 'sword_and_shield', 'dual_swords',
            'hammer', 'hunting_horn', 'lance', 'gunlance', 'tonfa', 'switch_axe_f', 'magnet_spike',
            'light_bowgun', 'heavy_bowgun', 'bow', 'partner_weapon'] LOOP
        -- A view cannot lose a column by CREATE OR REPLACE: dropped, then created as 00001 did.
        EXECUTE format('DROP VIEW %I', t || '_current');
        EXECUTE format('ALTER TABLE %I DROP COLUMN quality', t);
        EXECUTE format('CREATE VIEW %I AS SELECT DISTINCT ON (key) * FROM %I ORDER BY key, version DESC',
            t || '_current', t);
    END LOOP;
END
$$;
-- +goose StatementEnd
