-- What `mhfz serve` needs: a read-only role and the indexes of its searches.
--
-- mhfz_reader may read every table and view of the pipeline and nothing else. A role belongs to
-- the whole PostgreSQL cluster, not to one database, so it is created only if it does not exist
-- (several databases of one server share it) and it is not dropped by the Down migration while
-- another database still grants it something. It can log in but has no password: on a server
-- that asks for one, `mhfz migrate up --reader-password` (MHFZ_READER_PASSWORD) sets it. The
-- migrating role needs the right to create roles (a superuser, or CREATEROLE).
--
-- `mhfz reprocess` replaces the weapon tables by tables created in the schema mhfz_rebuild (and
-- moved into public), and re-creates their views: grants on today's tables would be lost at each
-- switch. The default privileges below give mhfz_reader SELECT on every table and view the
-- migrating role creates from now on, in any schema (so a table created in mhfz_rebuild has it
-- when it is moved); the GRANTs give it on what exists. The indexes are created on the live
-- tables, so that the re-processing's `CREATE TABLE ... (LIKE ... INCLUDING ALL)` copies them.
--
-- The indexes: a narrow covering index of the weapons without their level rows, which most
-- searches read alone; trigram indexes on the names of the weapons (English and Japanese
-- substrings, ILIKE), not of their level rows, which have their weapon's name: indexing those
-- four rows in five would slow the sink's writes for the rare search of level rows by name; the
-- row id in upper case (the site's ids, typed in any case); scraped_at (the versions of one
-- scrape); the items of every row's recipes (a JSON array of their ids and names), for "which
-- weapons use item 19F3"; and a trigram index on the text of the weapons'
-- materials (one line per item: "\nITEM_ID\tNAME\n"), for "items named like bone". Trigram
-- indexes are the costly ones to write: both leave out the level rows.

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    CREATE ROLE mhfz_reader LOGIN;
EXCEPTION
    -- Another database of this server created it (duplicate_object), or is creating it right now
    -- (unique_violation): either way it exists.
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;
-- +goose StatementEnd

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- +goose StatementBegin
CREATE FUNCTION mhfz_materials_text(materials jsonb, tower jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT coalesce(string_agg(E'\n' || (m->>'item_id') || E'\t' || (m->>'name'), '') || E'\n', '')
    FROM (
        SELECT jsonb_path_query(materials, '$.*[*][*]') AS m
        UNION ALL
        SELECT jsonb_path_query(tower, '$.upgrades[*].materials[*]')
    ) AS items
$fn$;
-- +goose StatementEnd

-- +goose StatementBegin
DO $$
DECLARE
    t text;
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO mhfz_reader', current_database());
    GRANT USAGE ON SCHEMA public TO mhfz_reader;
    GRANT SELECT ON ALL TABLES IN SCHEMA public TO mhfz_reader;
    ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO mhfz_reader;
    FOREACH t IN ARRAY ARRAY['great_sword', 'long_sword', 'sword_and_shield', 'dual_swords', 'hammer',
            'hunting_horn', 'lance', 'gunlance', 'tonfa', 'switch_axe_f', 'magnet_spike', 'light_bowgun',
            'heavy_bowgun', 'bow', 'partner_weapon'] LOOP
        EXECUTE format('CREATE INDEX %I ON %I USING gin (name gin_trgm_ops) WHERE NOT hidden', t || '_name_trgm_idx', t);
        EXECUTE format('CREATE INDEX %I ON %I (upper(row_id))', t || '_row_id_idx', t);
        EXECUTE format('CREATE INDEX %I ON %I (scraped_at)', t || '_scraped_at_idx', t);
        EXECUTE format('CREATE INDEX %I ON %I USING gin ((jsonb_path_query_array(coalesce(materials, ''{}''), ''$.*[*][*].item_id'') || '
            'jsonb_path_query_array(coalesce(materials, ''{}''), ''$.*[*][*].name'') || '
            'jsonb_path_query_array(coalesce(tower, ''{}''), ''$.upgrades[*].materials[*].item_id'') || '
            'jsonb_path_query_array(coalesce(tower, ''{}''), ''$.upgrades[*].materials[*].name'')) jsonb_path_ops)', t || '_materials_idx', t);
        EXECUTE format('CREATE INDEX %I ON %I USING gin (mhfz_materials_text(materials, tower) gin_trgm_ops) WHERE NOT hidden',
            t || '_materials_trgm_idx', t);
        -- The weapons without their level rows (a fifth of the rows), with what a search filters
        -- and sorts on: a search reads this narrow index instead of the wide rows.
        EXECUTE format('CREATE INDEX %I ON %I (name) INCLUDE (key, version, row_id, weapon_type, page_kind, rarity, '
            'g_rank, attack, affinity, element_value, status_value, slots, price, level, defense, elements) WHERE NOT hidden',
            t || '_visible_idx', t);
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
    FOREACH t IN ARRAY ARRAY['great_sword', 'long_sword', 'sword_and_shield', 'dual_swords', 'hammer',
            'hunting_horn', 'lance', 'gunlance', 'tonfa', 'switch_axe_f', 'magnet_spike', 'light_bowgun',
            'heavy_bowgun', 'bow', 'partner_weapon'] LOOP
        EXECUTE format('DROP INDEX IF EXISTS %I, %I, %I, %I, %I, %I', t || '_name_trgm_idx', t || '_row_id_idx',
            t || '_scraped_at_idx', t || '_materials_idx', t || '_materials_trgm_idx', t || '_visible_idx');
    END LOOP;
    ALTER DEFAULT PRIVILEGES REVOKE SELECT ON TABLES FROM mhfz_reader;
    REVOKE SELECT ON ALL TABLES IN SCHEMA public FROM mhfz_reader;
    REVOKE USAGE ON SCHEMA public FROM mhfz_reader;
    EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM mhfz_reader', current_database());
    BEGIN
        DROP ROLE mhfz_reader;
    EXCEPTION
        -- Another database of this server still grants it something: it stays for that one.
        WHEN dependent_objects_still_exist THEN NULL;
    END;
END
$$;
-- +goose StatementEnd

DROP FUNCTION mhfz_materials_text(jsonb, jsonb);
DROP EXTENSION IF EXISTS pg_trgm;
