-- weapon_latest: the latest version of every weapon key of the 15 weapon tables, one narrow row
-- per key, with what `mhfz serve`'s searches filter and sort on. A search reads this one table
-- instead of uniting 15 branches that each read every weapon of their table and checked, row by
-- row, that no newer version of it exists (34 ms for a filter and an order without a name).
--
-- The tables keep it current themselves, in the transaction that inserts the rows, whatever
-- inserts them (the sink's COPY, its staged INSERT, a single row's, a plain COPY): an AFTER
-- INSERT trigger of each weapon table upserts the statement's new rows (the newest of each key)
-- into the weapon_latest of the table's own schema; a version never replaces a newer one. The
-- weapon tables are only appended to, but a DELETE or an UPDATE (an operator's, a test's, a
-- later migration's) makes its keys' rows read again from the table, and a TRUNCATE forgets the
-- keys of the table. `mhfz reprocess` creates the
-- rebuilt tables with their own weapon_latest and these triggers (mhfz_latest_triggers) and
-- moves it into public with them.
--
-- The indexes: the key; a narrow covering index of the weapons without their level rows (a
-- search reads it alone when no index gives its order); a trigram index of those weapons' names;
-- the row id in upper case; and one per order that a search of every weapon asks for most
-- (descending numbers, ascending names), each with the key after the value: the search's own
-- order, so that the first page is the first rows of the index.

-- +goose Up
CREATE TABLE weapon_latest (
    key           text    PRIMARY KEY,
    version       bigint  NOT NULL,
    weapon_table  text    NOT NULL,
    weapon_type   text    NOT NULL,
    page_kind     text    NOT NULL,
    row_id        text    NOT NULL,
    hidden        boolean NOT NULL,
    flagged       boolean NOT NULL, -- quality IS NOT NULL
    name          text    NOT NULL,
    level         integer,
    rarity        integer,
    g_rank        integer,
    attack        integer,
    affinity      integer,
    element_value integer,
    status_value  integer,
    defense       integer,
    slots         integer,
    price         integer,
    elements      jsonb
);

CREATE INDEX weapon_latest_visible_idx ON weapon_latest (name) INCLUDE (key, version, weapon_table, row_id,
    weapon_type, page_kind, flagged, rarity, g_rank, attack, affinity, element_value, status_value, slots, price,
    level, defense, elements) WHERE NOT hidden;
CREATE INDEX weapon_latest_name_trgm_idx ON weapon_latest USING gin (name gin_trgm_ops) WHERE NOT hidden;
CREATE INDEX weapon_latest_row_id_idx ON weapon_latest (upper(row_id));

-- +goose StatementBegin
CREATE FUNCTION mhfz_latest_insert() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    -- The weapon_latest of the table's schema (public, or mhfz_rebuild while re-processing).
    EXECUTE format($q$
        INSERT INTO %I.weapon_latest AS l (key, version, weapon_table, weapon_type, page_kind, row_id, hidden, flagged,
            name, level, rarity, g_rank, attack, affinity, element_value, status_value, defense, slots, price, elements)
        SELECT DISTINCT ON (key) key, version, %L, weapon_type, page_kind, row_id, hidden, quality IS NOT NULL,
            name, level, rarity, g_rank, attack, affinity, element_value, status_value, defense, slots, price, elements
        FROM new_rows ORDER BY key, version DESC
        ON CONFLICT (key) DO UPDATE SET version = EXCLUDED.version, weapon_table = EXCLUDED.weapon_table,
            weapon_type = EXCLUDED.weapon_type, page_kind = EXCLUDED.page_kind, row_id = EXCLUDED.row_id,
            hidden = EXCLUDED.hidden, flagged = EXCLUDED.flagged, name = EXCLUDED.name, level = EXCLUDED.level,
            rarity = EXCLUDED.rarity, g_rank = EXCLUDED.g_rank, attack = EXCLUDED.attack,
            affinity = EXCLUDED.affinity, element_value = EXCLUDED.element_value,
            status_value = EXCLUDED.status_value, defense = EXCLUDED.defense, slots = EXCLUDED.slots,
            price = EXCLUDED.price, elements = EXCLUDED.elements
        WHERE l.version < EXCLUDED.version
    $q$, TG_TABLE_SCHEMA, TG_TABLE_NAME);
    RETURN NULL;
END
$fn$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION mhfz_latest_resync() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    keys text := 'SELECT key FROM old_rows';
BEGIN
    IF TG_OP = 'UPDATE' THEN
        keys := keys || ' UNION SELECT key FROM new_rows';
    END IF;
    EXECUTE format('DELETE FROM %I.weapon_latest WHERE key IN (%s)', TG_TABLE_SCHEMA, keys);
    EXECUTE format($q$
        INSERT INTO %I.weapon_latest (key, version, weapon_table, weapon_type, page_kind, row_id, hidden, flagged,
            name, level, rarity, g_rank, attack, affinity, element_value, status_value, defense, slots, price, elements)
        SELECT DISTINCT ON (key) key, version, %L, weapon_type, page_kind, row_id, hidden, quality IS NOT NULL,
            name, level, rarity, g_rank, attack, affinity, element_value, status_value, defense, slots, price, elements
        FROM %I.%I WHERE key IN (%s) ORDER BY key, version DESC
    $q$, TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_TABLE_SCHEMA, TG_TABLE_NAME, keys);
    RETURN NULL;
END
$fn$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION mhfz_latest_truncate() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format('DELETE FROM %I.weapon_latest WHERE weapon_table = %L', TG_TABLE_SCHEMA, TG_TABLE_NAME);
    RETURN NULL;
END
$fn$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION mhfz_latest_triggers(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format('CREATE TRIGGER weapon_latest_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows '
        'FOR EACH STATEMENT EXECUTE FUNCTION public.mhfz_latest_insert()', tbl);
    EXECUTE format('CREATE TRIGGER weapon_latest_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows '
        'FOR EACH STATEMENT EXECUTE FUNCTION public.mhfz_latest_resync()', tbl);
    EXECUTE format('CREATE TRIGGER weapon_latest_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS old_rows '
        'NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.mhfz_latest_resync()', tbl);
    EXECUTE format('CREATE TRIGGER weapon_latest_truncate AFTER TRUNCATE ON %s '
        'FOR EACH STATEMENT EXECUTE FUNCTION public.mhfz_latest_truncate()', tbl);
END
$fn$;
-- +goose StatementEnd

-- +goose StatementBegin
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['great_sword', 'long_sword', 'sword_and_shield', 'dual_swords', 'hammer',
            'hunting_horn', 'lance', 'gunlance', 'tonfa', 'switch_axe_f', 'magnet_spike', 'light_bowgun',
            'heavy_bowgun', 'bow', 'partner_weapon'] LOOP
        EXECUTE format($q$
            INSERT INTO weapon_latest (key, version, weapon_table, weapon_type, page_kind, row_id, hidden, flagged,
                name, level, rarity, g_rank, attack, affinity, element_value, status_value, defense, slots, price, elements)
            SELECT DISTINCT ON (key) key, version, %L, weapon_type, page_kind, row_id, hidden, quality IS NOT NULL,
                name, level, rarity, g_rank, attack, affinity, element_value, status_value, defense, slots, price, elements
            FROM %I ORDER BY key, version DESC
        $q$, t, t);
        PERFORM mhfz_latest_triggers(t::regclass);
        -- What searches read now: weapon_latest's own.
        EXECUTE format('DROP INDEX %I, %I', t || '_visible_idx', t || '_name_trgm_idx');
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
        EXECUTE format('DROP TRIGGER weapon_latest_insert ON %I', t);
        EXECUTE format('DROP TRIGGER weapon_latest_truncate ON %I', t);
        EXECUTE format('DROP TRIGGER weapon_latest_delete ON %I', t);
        EXECUTE format('DROP TRIGGER weapon_latest_update ON %I', t);
        EXECUTE format('CREATE INDEX %I ON %I USING gin (name gin_trgm_ops) WHERE NOT hidden', t || '_name_trgm_idx', t);
        EXECUTE format('CREATE INDEX %I ON %I (name) INCLUDE (key, version, row_id, weapon_type, page_kind, rarity, '
            'g_rank, attack, affinity, element_value, status_value, slots, price, level, defense, elements) WHERE NOT hidden',
            t || '_visible_idx', t);
    END LOOP;
END
$$;
-- +goose StatementEnd
DROP FUNCTION mhfz_latest_triggers(regclass);
DROP FUNCTION mhfz_latest_truncate();
DROP FUNCTION mhfz_latest_resync();
DROP FUNCTION mhfz_latest_insert();
DROP TABLE weapon_latest;
