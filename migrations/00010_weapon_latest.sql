-- weapon_latest: the latest version of every weapon of the 15 weapon tables, one narrow row per
-- key, with what `mhfz serve`'s searches filter and sort on. A search of the weapons reads this
-- one table instead of uniting 15 branches that each read every weapon of their table and
-- checked, row by row, that no newer version of it existed (34 ms for a filter and an order
-- without a name). The level rows (hidden) are left out, as most searches leave them out: they
-- are four rows in five, and a search that asks for them reads the weapon tables as before.
--
-- The weapon tables keep it current themselves, in the transaction that inserts their rows,
-- whatever inserts them (the sink's COPY, its staged INSERT, a single row's INSERT, a plain
-- COPY): an AFTER INSERT trigger of each weapon table upserts the statement's visible rows that
-- are their key's latest version into the weapon_latest of the table's own schema (a version
-- never replaces a newer one), and removes the keys whose latest version became a level row.
-- The tables are only appended to, but a DELETE or an UPDATE (an operator's, a test's, a later
-- migration's) reads its keys' latest rows again from the table, and a TRUNCATE forgets the
-- table's keys. `mhfz reprocess` gives the rebuilt tables a weapon_latest of their own and these
-- triggers (mhfz_latest_triggers), and moves it into public with them.
--
-- name_lower is lower(name): `name ILIKE p` is `lower(name) LIKE lower(p)` in PostgreSQL, and a
-- LIKE of the stored lower case costs a third of an ILIKE, which lowers every name it reads
-- (the names too short for the trigram index are read one by one).
--
-- The indexes: the key; the names in order (the default order); a trigram index of name_lower;
-- the row id in upper case; the elements (jsonb_path_ops: "has fire"); and the descending orders
-- a search of every weapon asks for most (attack, affinity, rarity, element, status), each with
-- the key after the value, the search's own order, so that a first page is the first rows of
-- the index. Other orders read the table (25,647 rows on both snapshots, 3 ms). The trigram and
-- covering indexes of the weapon tables that searches read before (00008's <table>_name_trgm_idx
-- and <table>_visible_idx) go: nothing reads them now, and the sink no longer writes them.

-- +goose Up
CREATE TABLE weapon_latest (
    key           text    PRIMARY KEY,
    version       bigint  NOT NULL,
    weapon_table  text    NOT NULL,
    weapon_type   text    NOT NULL,
    page_kind     text    NOT NULL,
    row_id        text    NOT NULL,
    flagged       boolean NOT NULL, -- quality IS NOT NULL
    name          text    NOT NULL,
    name_lower    text    NOT NULL, -- lower(name): what name ILIKE p compares (lower(name) LIKE lower(p))
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

CREATE INDEX weapon_latest_name_idx ON weapon_latest (name, key);
CREATE INDEX weapon_latest_name_trgm_idx ON weapon_latest USING gin (name_lower gin_trgm_ops);
CREATE INDEX weapon_latest_row_id_idx ON weapon_latest (upper(row_id));
CREATE INDEX weapon_latest_elements_idx ON weapon_latest USING gin (elements jsonb_path_ops);
CREATE INDEX weapon_latest_attack_idx ON weapon_latest (attack DESC NULLS LAST, key);
CREATE INDEX weapon_latest_affinity_idx ON weapon_latest (affinity DESC NULLS LAST, key);
CREATE INDEX weapon_latest_rarity_idx ON weapon_latest (rarity DESC NULLS LAST, key);
CREATE INDEX weapon_latest_element_idx ON weapon_latest (element_value DESC NULLS LAST, key);
CREATE INDEX weapon_latest_status_idx ON weapon_latest (status_value DESC NULLS LAST, key);

-- +goose StatementBegin
CREATE FUNCTION mhfz_latest_insert() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    -- The weapon_latest of the table's schema (public, or mhfz_rebuild while re-processing). A
    -- key whose new latest version is a level row (hidden) leaves it; a visible row enters it
    -- unless its table holds a newer version of its key (this statement's rows included). A
    -- version 1 replaces nothing: most rows skip the DELETE's probe.
    EXECUTE format($q$
        DELETE FROM %1$I.weapon_latest l USING new_rows r
        WHERE r.hidden AND r.version > 1 AND l.key = r.key AND l.version < r.version
    $q$, TG_TABLE_SCHEMA);
    EXECUTE format($q$
        INSERT INTO %1$I.weapon_latest AS l (key, version, weapon_table, weapon_type, page_kind, row_id, flagged,
            name, name_lower, level, rarity, g_rank, attack, affinity, element_value, status_value, defense, slots, price,
            elements)
        SELECT key, version, %2$L, weapon_type, page_kind, row_id, quality IS NOT NULL,
            name, lower(name), level, rarity, g_rank, attack, affinity, element_value, status_value, defense, slots,
            price, elements
        FROM new_rows r
        WHERE NOT r.hidden AND NOT EXISTS (SELECT 1 FROM %1$I.%2$I n WHERE n.key = r.key AND n.version > r.version)
        ON CONFLICT (key) DO UPDATE SET version = EXCLUDED.version, weapon_table = EXCLUDED.weapon_table,
            weapon_type = EXCLUDED.weapon_type, page_kind = EXCLUDED.page_kind, row_id = EXCLUDED.row_id,
            flagged = EXCLUDED.flagged, name = EXCLUDED.name, name_lower = EXCLUDED.name_lower,
            level = EXCLUDED.level, rarity = EXCLUDED.rarity, g_rank = EXCLUDED.g_rank, attack = EXCLUDED.attack, affinity = EXCLUDED.affinity,
            element_value = EXCLUDED.element_value, status_value = EXCLUDED.status_value,
            defense = EXCLUDED.defense, slots = EXCLUDED.slots, price = EXCLUDED.price, elements = EXCLUDED.elements
        WHERE l.version < EXCLUDED.version
    $q$, TG_TABLE_SCHEMA, TG_TABLE_NAME);
    RETURN NULL;
END
$fn$;
-- +goose StatementEnd

-- +goose StatementBegin
-- mhfz_latest_reload reads again, from a weapon table, the latest row of each of the keys (every
-- key when keys is NULL) into the weapon_latest of the table's schema: what a DELETE or an UPDATE
-- of the table left, and the first filling of weapon_latest below.
CREATE FUNCTION mhfz_latest_reload(sch text, tbl text, keys text[]) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format('DELETE FROM %I.weapon_latest WHERE weapon_table = %L AND ($1 IS NULL OR key = ANY($1))', sch, tbl)
        USING keys;
    EXECUTE format($q$
        INSERT INTO %1$I.weapon_latest (key, version, weapon_table, weapon_type, page_kind, row_id, flagged,
            name, name_lower, level, rarity, g_rank, attack, affinity, element_value, status_value, defense, slots, price,
            elements)
        SELECT key, version, %2$L, weapon_type, page_kind, row_id, flagged,
            name, lower(name), level, rarity, g_rank, attack, affinity, element_value, status_value, defense, slots,
            price, elements
        FROM (SELECT DISTINCT ON (key) *, quality IS NOT NULL AS flagged FROM %1$I.%2$I
            WHERE $1 IS NULL OR key = ANY($1) ORDER BY key, version DESC) t
        WHERE NOT hidden
    $q$, sch, tbl) USING keys;
END
$fn$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION mhfz_latest_resync() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    keys text[];
BEGIN
    IF TG_OP = 'UPDATE' THEN
        EXECUTE 'SELECT array_agg(key) FROM (SELECT key FROM old_rows UNION SELECT key FROM new_rows) k' INTO keys;
    ELSE
        EXECUTE 'SELECT array_agg(DISTINCT key) FROM old_rows' INTO keys;
    END IF;
    IF keys IS NOT NULL THEN -- NULL: no row, and mhfz_latest_reload would read every key
        PERFORM public.mhfz_latest_reload(TG_TABLE_SCHEMA, TG_TABLE_NAME, keys);
    END IF;
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
        PERFORM mhfz_latest_reload('public', t, NULL);
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
DROP FUNCTION mhfz_latest_reload(text, text, text[]);
DROP FUNCTION mhfz_latest_insert();
DROP TABLE weapon_latest;
