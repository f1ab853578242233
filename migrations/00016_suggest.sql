-- What bots ask `mhfz serve` for (GET /api/suggest, GET /api/weapons/by-game-id/{id}): names by
-- their first letters, as a user types them, and weapons by the game's own weapon id.
--
-- mhfz_suggest_name is a weapon's name in lower case as a user types it: the site writes the
-- names it left untranslated with the game's id in front ("4219・覇帝刀ケミカムトルム": the id's
-- two bytes as the game stores them, then a middle dot), which nobody types; it is left out. Its
-- index orders the names byte by byte (COLLATE "C"), so that every name beginning with what was
-- typed is one range of it, whatever the database's collation, and a first page of suggestions
-- is the first entries of that range (ties by key, the answer's own order).
--
-- mhfz_game_id is the game's weapon id that a row id of the site encodes: the four hexadecimal
-- digits after its "l" ("l1A0B", "l1A0B50": 6667; a level row adds its level after them), NULL
-- for an id of another shape. docs/web-and-api.md says what shows that these are the game's ids.
--
-- Both indexes are on weapon_latest: `mhfz reprocess` creates the rebuilt weapon_latest LIKE the
-- live one INCLUDING ALL, which copies them (a test of sink checks it).

-- +goose Up
CREATE FUNCTION mhfz_suggest_name(name_lower text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT regexp_replace(name_lower, '^[0-9a-f]{4}・', '')
$$;

CREATE FUNCTION mhfz_game_id(row_id text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT CASE WHEN row_id ~ '^[lL][0-9A-Fa-f]{4}' THEN ('x' || substr(row_id, 2, 4))::bit(16)::integer END
$$;

CREATE INDEX weapon_latest_suggest_idx ON weapon_latest ((mhfz_suggest_name(name_lower)) COLLATE "C", key);
CREATE INDEX weapon_latest_game_id_idx ON weapon_latest (mhfz_game_id(row_id));

-- +goose Down
DROP INDEX weapon_latest_game_id_idx;
DROP INDEX weapon_latest_suggest_idx;
DROP FUNCTION mhfz_game_id(text);
DROP FUNCTION mhfz_suggest_name(text);
