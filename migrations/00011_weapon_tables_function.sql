-- mhfz_weapon_tables() names every weapon table: one per weapon type, in the order of the site's
-- index, then partner_weapon (migrations.WeaponTables() in Go; a test checks they agree). Until
-- now each migration that touched every table pasted the fifteen names (00003, 00006, 00008,
-- 00009, 00010); from this one on, a migration loops over the function instead:
--
--     FOREACH t IN ARRAY mhfz_weapon_tables() LOOP ... END LOOP;   -- in a DO block
--     SELECT t FROM unnest(mhfz_weapon_tables()) AS t;               -- in plain SQL
--
-- and, to recreate a table's <table>_current view and <table>_history function after changing
-- its columns, drops both and calls mhfz_weapon_views(t) (00005) instead of restating their DDL.
-- The migrations before this one are left as they were applied: a migration never changes once
-- released, since databases already past it would not run it again.
--
-- A new weapon table (a new weapon type) is added here by a later migration that replaces the
-- function with CREATE OR REPLACE, together with codecs.WeaponTypes.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION mhfz_weapon_tables() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT ARRAY['great_sword', 'long_sword', 'sword_and_shield', 'dual_swords', 'hammer',
        'hunting_horn', 'lance', 'gunlance', 'tonfa', 'switch_axe_f', 'magnet_spike', 'light_bowgun',
        'heavy_bowgun', 'bow', 'partner_weapon']
$fn$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION mhfz_weapon_tables();
