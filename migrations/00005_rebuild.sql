-- Re-processing (mhfz reprocess) rebuilds the weapon tables in the schema mhfz_rebuild while the
-- readers keep the tables of public, then moves the rebuilt tables into public in one
-- transaction. pipeline_rebuild marks a re-processing that has started and not switched yet: the
-- live sink writes nothing while it exists. mhfz_weapon_views (re)creates what readers use on top
-- of a weapon table: <table>_current and <table>_history(key), which a moved table needs anew
-- (a view and a function are bound to the table they were created on, not to its name).

-- +goose Up
CREATE TABLE pipeline_rebuild (
    singleton  boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    started_at timestamptz NOT NULL DEFAULT now(),
    consumer   text        NOT NULL
);

-- +goose StatementBegin
CREATE FUNCTION mhfz_weapon_views(tbl text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format($v$
        CREATE VIEW public.%I AS
            SELECT DISTINCT ON (key) * FROM public.%I ORDER BY key, version DESC
    $v$, tbl || '_current', tbl);
    EXECUTE format($f$
        CREATE FUNCTION public.%I(weapon_key text) RETURNS SETOF public.%I
        LANGUAGE sql STABLE AS 'SELECT * FROM public.%I WHERE key = weapon_key ORDER BY version'
    $f$, tbl || '_history', tbl, tbl);
END
$fn$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION mhfz_weapon_views(text);
DROP TABLE pipeline_rebuild;
DROP SCHEMA IF EXISTS mhfz_rebuild CASCADE;
