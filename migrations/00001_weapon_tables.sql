-- One table per weapon type (named as codecs.WeaponType) and partner_weapon: each row is one
-- version of one weapon row. The columns every weapon has are created for all tables; the
-- columns of one type's pages only for that type (partners may be of any class, so they get all).
-- The whole record stays in `record` so that fields added to codecs.Weapon later are not lost.
-- Keep the column lists in step with sink/columns.go (sink's TestSchemaMatchesColumns checks).

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION mhfz_create_weapon_table(tbl text, type_check text, specific text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format($ddl$
        CREATE TABLE %1$I (
            key             text        NOT NULL,
            version         bigint      NOT NULL CHECK (version >= 1),
            content_hash    text        NOT NULL,
            weapon_type     text        NOT NULL,
            page_kind       text        NOT NULL,
            layout          text        NOT NULL,
            page            text        NOT NULL,
            url             text        NOT NULL,
            row_id          text        NOT NULL,
            hidden          boolean     NOT NULL,
            scraped_at      timestamptz NOT NULL,
            kafka_topic     text        NOT NULL,
            kafka_partition integer     NOT NULL,
            kafka_offset    bigint      NOT NULL,
            name            text        NOT NULL,
            level           integer,
            rarity          integer     CHECK (rarity >= 0),
            g_rank          integer     CHECK (g_rank >= 0),
            attack          integer     CHECK (attack >= 0),
            affinity        integer,
            element         text,
            element_value   integer,
            status          text,
            status_value    integer,
            elements        jsonb,
            defense         integer,
            slots           integer     CHECK (slots BETWEEN 0 AND 3),
            rank_system     text,
            rank_level      integer,
            price           integer     CHECK (price >= 0),
            description     text,
            upgrade_from    jsonb,
            upgrade_to      jsonb,
            sharpness       jsonb,
            materials       jsonb,
            tower           jsonb,
            %3$s
            extra           jsonb,
            record          json        NOT NULL,
            PRIMARY KEY (key, version),
            CONSTRAINT %4$I CHECK (%2$s)
        )$ddl$, tbl, type_check, specific, tbl || '_type_check');
    EXECUTE format('CREATE INDEX %I ON %I (name)', tbl || '_name_idx', tbl);
    EXECUTE format('CREATE INDEX %I ON %I (rarity)', tbl || '_rarity_idx', tbl);
    EXECUTE format('CREATE INDEX %I ON %I (attack)', tbl || '_attack_idx', tbl);
    -- The latest version of each weapon (the PK's index serves the DISTINCT ON).
    EXECUTE format($v$
        CREATE VIEW %I AS
            SELECT DISTINCT ON (key) * FROM %I ORDER BY key, version DESC
    $v$, tbl || '_current', tbl);
    -- Every version of one weapon, oldest first: SELECT * FROM long_sword_history('long_sword/g/123').
    EXECUTE format($f$
        CREATE FUNCTION %I(weapon_key text) RETURNS SETOF %I
        LANGUAGE sql STABLE AS 'SELECT * FROM %I WHERE key = weapon_key ORDER BY version'
    $f$, tbl || '_history', tbl, tbl);
END
$fn$;
-- +goose StatementEnd

-- +goose StatementBegin
DO $$
DECLARE
    bowgun   constant text := 'reload text, recoil text, bullet_speed text, ammo jsonb,';
    bow      constant text := 'arc_shot text, charge_levels jsonb, coatings text[],';
    horn     constant text := 'horn_notes text[],';
    gunlance constant text := 'shelling text,';
    axe      constant text := 'phial text,';
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['great_sword', 'long_sword', 'sword_and_shield', 'dual_swords',
            'hammer', 'lance', 'tonfa', 'magnet_spike'] LOOP
        PERFORM mhfz_create_weapon_table(t, format('weapon_type = %L', t), '');
    END LOOP;
    PERFORM mhfz_create_weapon_table('hunting_horn', 'weapon_type = ''hunting_horn''', horn);
    PERFORM mhfz_create_weapon_table('gunlance', 'weapon_type = ''gunlance''', gunlance);
    PERFORM mhfz_create_weapon_table('switch_axe_f', 'weapon_type = ''switch_axe_f''', axe);
    PERFORM mhfz_create_weapon_table('light_bowgun', 'weapon_type = ''light_bowgun''', bowgun);
    PERFORM mhfz_create_weapon_table('heavy_bowgun', 'weapon_type = ''heavy_bowgun''', bowgun);
    PERFORM mhfz_create_weapon_table('bow', 'weapon_type = ''bow''', bow);
    PERFORM mhfz_create_weapon_table('partner_weapon', 'page_kind = ''partner''',
        horn || gunlance || axe || bowgun || bow);
END
$$;
-- +goose StatementEnd

DROP FUNCTION mhfz_create_weapon_table(text, text, text);

-- +goose Down
DROP TABLE great_sword, long_sword, sword_and_shield, dual_swords, hammer, hunting_horn, lance,
    gunlance, tonfa, switch_axe_f, magnet_spike, light_bowgun, heavy_bowgun, bow, partner_weapon
    CASCADE;
