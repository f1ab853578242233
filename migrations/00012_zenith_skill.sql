-- The Zenith Skill of a weapon ("Zenith Skill：Skill Slots Up+1" under the sharpness, the ammo or
-- the charge stages of Zenith weapons; 22,000 rows of the Ravi pages) gets a column of its own,
-- zenith_skill, in every weapon table: the processor now parses it into Weapon.ZenithSkill, where
-- builds before it put it into the `extra` jsonb. Keep sink/columns.go in step (it writes the
-- column last). docs/adding-a-field.md walks this field through every place it goes.
--
-- The rows already stored are moved as this build would store them: the value leaves `extra`
-- for the column, and an `extra` left empty becomes NULL (the sink stores no empty object), so
-- that the tables hold what a re-processing of weapon_data with this build gives (the content
-- hash is unchanged: the processor hashes the field in its old place). weapon_latest keeps
-- neither column, and the UPDATE's triggers read the moved keys into it again unchanged.
--
-- The <table>_current views are `SELECT DISTINCT ON (key) *`, whose * PostgreSQL expands when a
-- view is created: each is dropped and created again by mhfz_weapon_views (00005) with its
-- <table>_history function, to show the new column. The tables come from mhfz_weapon_tables()
-- (00011). The rebuilt tables of a re-processing in progress (schema mhfz_rebuild, created LIKE
-- the live ones when it started) get the column too, so that its switch keeps it.

-- +goose Up
-- +goose StatementBegin
DO $$
DECLARE
    t text;
    s text;
BEGIN
    FOREACH t IN ARRAY mhfz_weapon_tables() LOOP
        FOREACH s IN ARRAY ARRAY['public', 'mhfz_rebuild'] LOOP
            CONTINUE WHEN to_regclass(format('%I.%I', s, t)) IS NULL;
            EXECUTE format('ALTER TABLE %I.%I ADD COLUMN zenith_skill text', s, t);
            EXECUTE format($u$
                UPDATE %I.%I SET zenith_skill = extra->>'zenith_skill', extra = nullif(extra - 'zenith_skill', '{}')
                WHERE extra ? 'zenith_skill'
            $u$, s, t);
        END LOOP;
        EXECUTE format('DROP VIEW %I', t || '_current');
        EXECUTE format('DROP FUNCTION %I(text)', t || '_history');
        PERFORM mhfz_weapon_views(t);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- The values go back into `extra`, as the builds before this one stored them.
-- +goose StatementBegin
DO $$
DECLARE
    t text;
    s text;
BEGIN
    FOREACH t IN ARRAY mhfz_weapon_tables() LOOP
        EXECUTE format('DROP VIEW %I', t || '_current');
        EXECUTE format('DROP FUNCTION %I(text)', t || '_history');
        FOREACH s IN ARRAY ARRAY['public', 'mhfz_rebuild'] LOOP
            CONTINUE WHEN to_regclass(format('%I.%I', s, t)) IS NULL;
            EXECUTE format($u$
                UPDATE %I.%I SET extra = coalesce(extra, '{}') || jsonb_build_object('zenith_skill', zenith_skill)
                WHERE zenith_skill IS NOT NULL
            $u$, s, t);
            EXECUTE format('ALTER TABLE %I.%I DROP COLUMN zenith_skill', s, t);
        END LOOP;
        PERFORM mhfz_weapon_views(t);
    END LOOP;
END
$$;
-- +goose StatementEnd
