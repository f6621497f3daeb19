-- Test-only SQL functions for aggq (tests/integration/lib.sh) on a
-- PostgreSQL store: SQLite's hex(), group_concat() and type name BLOB,
-- created in the TEST database after the aggregator made its schema. The
-- product never relies on them; tests/pg/aggq_dialect.sh uses them too.
CREATE OR REPLACE FUNCTION hex(bytea) RETURNS text LANGUAGE sql IMMUTABLE
  AS $$ SELECT upper(encode($1, 'hex')) $$;
CREATE OR REPLACE FUNCTION cds_test_gc(text, anyelement, text) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN $2 IS NULL THEN $1
    WHEN $1 IS NULL THEN CAST($2 AS text) ELSE $1 || $3 || CAST($2 AS text) END $$;
CREATE OR REPLACE FUNCTION cds_test_gc(text, anyelement) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$ SELECT cds_test_gc($1, $2, ',') $$;
CREATE OR REPLACE AGGREGATE group_concat(anyelement) (SFUNC = cds_test_gc, STYPE = text);
CREATE OR REPLACE AGGREGATE group_concat(anyelement, text) (SFUNC = cds_test_gc, STYPE = text);
DO $$ BEGIN CREATE DOMAIN blob AS bytea; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
