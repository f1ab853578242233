-- A role per service, so that no service but `mhfz migrate` connects as the owner of the schema
-- (in the compose file, POSTGRES_USER: a superuser of the official image), and a bug in one
-- service can do only what that service needs:
--
--   mhfz_reader    mhfz serve (00008): SELECT on every table and view.
--   mhfz_writer    mhfz sink: rows in, never DDL.
--   mhfz_rebuilder mhfz reprocess: builds the weapon tables again in the schema mhfz_rebuild and
--                  puts them in place of the live ones.
--   (the owner)    mhfz migrate: everything else.
--
-- Like mhfz_reader, both roles belong to the whole server, not to this database: they are created
-- only if they do not exist, and the Down migration drops them only when no other database still
-- grants them something. They can log in but have no password: on a server that asks for one,
-- `mhfz migrate up --writer-password --rebuilder-password` (MHFZ_WRITER_PASSWORD,
-- MHFZ_REBUILDER_PASSWORD) sets them; a migration holds no secret. The migrating role needs the
-- right to create roles (a superuser, or CREATEROLE).
--
-- mhfz_writer, table by table, for what the sink runs (sink/offsets.go, transaction.go,
-- rebuild.go's marker check, metrics.go):
--   weapon tables     SELECT, INSERT: the rows (COPY, INSERT ... ON CONFLICT DO NOTHING) and the
--                     stored hashes of conflicts; TRUNCATE: `mhfz sink --replay` empties them.
--                     No UPDATE, no DELETE: the tables are only appended to.
--   weapon_latest     SELECT, INSERT, UPDATE, DELETE, TRUNCATE: the weapon tables' triggers
--                     (00010) run as the role that inserts, and upsert and delete its rows; the
--                     replay truncates it with the weapon tables.
--   kafka_offsets     SELECT, INSERT, UPDATE (the upsert, SELECT ... FOR UPDATE), DELETE (replay).
--   sink_dead_letter, sink_conflict  SELECT, INSERT, DELETE (the replay forgets its consumer's).
--   pipeline_rebuild  SELECT: the live sink waits while a re-processing is in progress.
--   the database      CONNECT, TEMPORARY: the sink stages a batch in a temporary table.
--   schema public     USAGE only: it cannot CREATE, and it owns nothing, so it can neither DROP
--                     nor ALTER any table. It gets nothing on mhfz_rebuild.
-- No table has a sequence (no serial or identity column): there is no sequence to grant.
--
-- mhfz_rebuilder, for what `mhfz reprocess` runs (sink/rebuild.go, and its own sink, which
-- writes the rebuilt tables through the search_path mhfz_rebuild, public):
--   owner of the weapon tables, weapon_latest, the <table>_current views and <table>_history
--                     functions: the switch drops the live ones (only an owner may DROP a
--                     table; PostgreSQL has no grantable DROP) and moves the rebuilt ones in.
--                     Ownership is the least that works: the alternative, SECURITY DEFINER
--                     functions of the owner, would run the whole switch as the owner.
--   owner of the schema mhfz_rebuild, created here: Prepare empties it and creates the rebuilt
--                     tables in it, without CREATE on the database (which would let it create
--                     any schema).
--   schema public     USAGE, CREATE: ALTER TABLE ... SET SCHEMA public needs CREATE on public,
--                     and mhfz_weapon_views creates the moved tables' views and functions there.
--   kafka_offsets, sink_dead_letter, sink_conflict, pipeline_rebuild  SELECT, INSERT, UPDATE,
--                     DELETE: it sets and removes the marker, its sink writes its own consumer's
--                     rows, and the switch hands them over to the live sink (UPDATE consumer)
--                     after forgetting the live sink's (DELETE). It owns none of these: it cannot
--                     drop or alter them.
--   the database      CONNECT, TEMPORARY (its sink's staging tables).
-- What ownership also allows: as the owner of the weapon tables, with CREATE on public,
-- mhfz_rebuilder can attach a trigger that runs as whoever writes those tables, the migrating
-- role included (a superuser in the compose stack) during a migration that writes rows of the
-- weapon tables. So a migration that writes weapon rows must run those statements after
-- SET LOCAL ROLE mhfz_rebuilder (none after this one does yet), and the weapon tables must carry
-- only the triggers the migrations create (weapon_latest's).
-- The migrating role becomes a member of mhfz_rebuilder (if it is not a superuser), so that it
-- can still alter the weapon tables in later migrations.
--
-- Tables created later: the tables the switch moves into public were created by mhfz_rebuilder,
-- and the default privileges of 00008 (of the migrating role) do not cover them; the switch calls
-- mhfz_service_grants() after moving them, which grants mhfz_writer and mhfz_reader what is above
-- on every weapon table, weapon_latest and the views, whoever created them. A migration that
-- creates a weapon table (a new weapon type) gives it to mhfz_rebuilder and calls
-- mhfz_service_grants() too; one that creates another table grants each role what it needs
-- itself (the default privileges give mhfz_reader SELECT; mhfz_writer gets nothing by default).
-- mhfz_weapon_views now gives the view and function it creates the table's owner, so that a
-- migration that re-creates them (00012 did) leaves them to mhfz_rebuilder for the next switch.
--
-- REVOKE CREATE ON SCHEMA public FROM PUBLIC: PostgreSQL 15 does so for a new database; a
-- database created by an older one still lets every role create tables in public, which would
-- give the writer and the reader DDL.

-- +goose Up
-- +goose StatementBegin
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['mhfz_writer', 'mhfz_rebuilder'] LOOP
        BEGIN
            EXECUTE format('CREATE ROLE %I LOGIN', r);
        EXCEPTION
            -- Another database of this server created it (duplicate_object), or is creating it
            -- right now (unique_violation): either way it exists.
            WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END LOOP;
    IF NOT pg_has_role(current_user, 'mhfz_rebuilder', 'USAGE') THEN
        GRANT mhfz_rebuilder TO CURRENT_USER;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION mhfz_weapon_views(tbl text) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    owner name := (SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = tbl);
BEGIN
    EXECUTE format($v$
        CREATE VIEW public.%I AS
            SELECT DISTINCT ON (key) * FROM public.%I ORDER BY key, version DESC
    $v$, tbl || '_current', tbl);
    EXECUTE format($f$
        CREATE FUNCTION public.%I(weapon_key text) RETURNS SETOF public.%I
        LANGUAGE sql STABLE AS 'SELECT * FROM public.%I WHERE key = weapon_key ORDER BY version'
    $f$, tbl || '_history', tbl, tbl);
    -- The table's owner drops them at the next switch of a re-processing.
    EXECUTE format('ALTER VIEW public.%I OWNER TO %I', tbl || '_current', owner);
    EXECUTE format('ALTER FUNCTION public.%I(text) OWNER TO %I', tbl || '_history', owner);
END
$fn$;
-- +goose StatementEnd

-- +goose StatementBegin
-- mhfz_service_grants gives mhfz_writer and mhfz_reader their rights on the weapon tables,
-- weapon_latest and the views of public: after this migration, and after each switch of a
-- re-processing (the moved tables are new tables).
CREATE FUNCTION mhfz_service_grants() RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY mhfz_weapon_tables() LOOP
        EXECUTE format('GRANT SELECT, INSERT, TRUNCATE ON public.%I TO mhfz_writer', t);
        EXECUTE format('GRANT SELECT ON public.%I, public.%I TO mhfz_reader', t, t || '_current');
    END LOOP;
    GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON public.weapon_latest TO mhfz_writer;
    GRANT SELECT ON public.weapon_latest TO mhfz_reader;
END
$fn$;
-- +goose StatementEnd

-- +goose StatementBegin
DO $$
DECLARE
    t text;
BEGIN
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO mhfz_writer, mhfz_rebuilder', current_database());
    GRANT USAGE ON SCHEMA public TO mhfz_writer;
    GRANT USAGE, CREATE ON SCHEMA public TO mhfz_rebuilder;

    GRANT SELECT, INSERT, UPDATE, DELETE ON kafka_offsets TO mhfz_writer;
    GRANT SELECT, INSERT, DELETE ON sink_dead_letter, sink_conflict TO mhfz_writer;
    GRANT SELECT ON pipeline_rebuild TO mhfz_writer;
    GRANT SELECT, INSERT, UPDATE, DELETE ON kafka_offsets, sink_dead_letter, sink_conflict, pipeline_rebuild
        TO mhfz_rebuilder;
    -- mhfz dlq, an operator's command like mhfz reprocess, runs as mhfz_rebuilder: it keeps its
    -- marks in dlq_redrive (00013) and sets sink_dead_letter.redriven_at (UPDATE, above).
    GRANT SELECT, INSERT, UPDATE, DELETE ON dlq_redrive TO mhfz_rebuilder;

    FOREACH t IN ARRAY mhfz_weapon_tables() LOOP
        EXECUTE format('ALTER TABLE public.%I OWNER TO mhfz_rebuilder', t);
        EXECUTE format('ALTER VIEW public.%I OWNER TO mhfz_rebuilder', t || '_current');
        EXECUTE format('ALTER FUNCTION public.%I(text) OWNER TO mhfz_rebuilder', t || '_history');
    END LOOP;
    ALTER TABLE public.weapon_latest OWNER TO mhfz_rebuilder;

    -- A re-processing interrupted before this migration left its schema to the migrating role:
    -- it becomes mhfz_rebuilder's, which may drop what is in it (a schema's owner may).
    CREATE SCHEMA IF NOT EXISTS mhfz_rebuild AUTHORIZATION mhfz_rebuilder;
    ALTER SCHEMA mhfz_rebuild OWNER TO mhfz_rebuilder;

    PERFORM mhfz_service_grants();
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE
    r text;
BEGIN
    -- The rebuilt tables of a re-processing in progress go with the schema, as in 00005's Down.
    DROP SCHEMA IF EXISTS mhfz_rebuild CASCADE;
    -- Back to the migrating role: what mhfz_rebuilder owns in this database (the weapon tables,
    -- their views and functions, weapon_latest).
    REASSIGN OWNED BY mhfz_rebuilder TO CURRENT_USER;
    FOREACH r IN ARRAY ARRAY['mhfz_writer', 'mhfz_rebuilder'] LOOP
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I', r);
        EXECUTE format('REVOKE ALL ON SCHEMA public FROM %I', r);
        EXECUTE format('REVOKE ALL ON DATABASE %I FROM %I', current_database(), r);
        BEGIN
            EXECUTE format('DROP ROLE %I', r);
        EXCEPTION
            -- Another database of this server still grants it something: it stays for that one.
            WHEN dependent_objects_still_exist THEN NULL;
        END;
    END LOOP;
END
$$;
-- +goose StatementEnd

DROP FUNCTION mhfz_service_grants();

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION mhfz_weapon_views(tbl text) RETURNS void
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
