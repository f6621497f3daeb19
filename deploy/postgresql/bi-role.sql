-- bi-role.sql: the read-only role for BI tools (Metabase, Superset, Power
-- BI, psql) on a cdsync PostgreSQL store (docs/POSTGRESQL.md "Read-only
-- role for BI tools"). Roles are cluster-wide, so the schema does not
-- create them: a DBA runs this once per database, as a role that may
-- create roles (or owns the objects), after the aggregator created its
-- schema:
--
--   psql -X -v ON_ERROR_STOP=1 -v schema=cdsync -v owner=cdsync \
--        -d DATABASE -f deploy/postgresql/bi-role.sql
--
--   schema  the schema holding the aggregator's tables (default: public)
--   owner   the role the aggregator connects as, which creates the tables
--           and views of later versions (default: the current user)
--
-- then gives it to each BI login:
--
--   CREATE ROLE metabase LOGIN PASSWORD '...' IN ROLE cdsync_bi;
--   ALTER ROLE metabase SET default_transaction_read_only = on;
--
-- Granted: the bi_* views and the tables a report reads (current values,
-- history, agents, org units, health, follow-up flags). Not granted: batch (signed
-- envelopes), reject (raw bytes of refused messages), knock (peer
-- addresses), api_token (token hashes), account (officers' password
-- hashes, explicitly revoked below), the commit-mark tables.
-- Running it again is harmless.

\if :{?schema}
\else
\set schema public
\endif
\if :{?owner}
\else
SELECT current_user AS owner \gset
\endif

SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cdsync_bi')
    AS bi_role_missing \gset
\if :bi_role_missing
CREATE ROLE cdsync_bi NOLOGIN;
\endif
COMMENT ON ROLE cdsync_bi IS 'cdsync: read-only access for BI tools';

GRANT USAGE ON SCHEMA :"schema" TO cdsync_bi;
GRANT SELECT ON
    :"schema".bi_current_value, :"schema".bi_history,
    :"schema".datavalue, :"schema".update_log, :"schema".update_status,
    :"schema".agent, :"schema".agent_orgunit, :"schema".orgunit,
    :"schema".orgunit_map, :"schema".agent_health,
    :"schema".agent_health_bucket, :"schema".followup_log
    TO cdsync_bi;
-- Tables and views the aggregator creates later (schema upgrades) are
-- readable too; REVOKE one that must stay private after an upgrade.
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA :"schema"
    GRANT SELECT ON TABLES TO cdsync_bi;
-- Password hashes stay private even where a default privilege granted
-- the table when an upgrade created it.
REVOKE ALL ON :"schema".account FROM cdsync_bi;
