/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* The store's database layer (see scim_db.h).  Every difference between
 * the sqlite3 and pgsql drivers is behind the small functions of the
 * "drivers" section below. */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_atomic.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "scim_db.h"

/* ---- the schema --------------------------------------------------------- */

/* Schema migrations, in order; migration N brings the database to version
 * N+1.  Only SQL that SQLite and PostgreSQL both accept, but for a
 * statement marked for one driver (ONLY_SQLITE, ONLY_PGSQL). */
static const char *const migration_v1[] = {
    "CREATE TABLE IF NOT EXISTS scim_resources ("
    " org VARCHAR(255) NOT NULL,"
    " rtype VARCHAR(16) NOT NULL,"
    " id VARCHAR(64) NOT NULL,"
    " name VARCHAR(1024) NOT NULL,"         /* SCIM_STORE_MAX_KEY */
    " name_ci VARCHAR(1024) NOT NULL,"
    " external_id VARCHAR(1024),"
    " created VARCHAR(32) NOT NULL,"
    " last_modified VARCHAR(32) NOT NULL,"
    " version INTEGER NOT NULL,"
    " state VARCHAR(16),"
    " linked VARCHAR(32),"
    " resource TEXT NOT NULL,"
    " PRIMARY KEY (org, rtype, id))",
    /* userName / displayName are unique per organization, ignoring case */
    "CREATE UNIQUE INDEX IF NOT EXISTS scim_resources_name"
    " ON scim_resources (org, rtype, name_ci)",
    "CREATE INDEX IF NOT EXISTS scim_resources_external"
    " ON scim_resources (org, rtype, external_id)",
    /* the stable default order of lists */
    "CREATE INDEX IF NOT EXISTS scim_resources_order"
    " ON scim_resources (org, rtype, created, id)",
    /* Group memberships, one row each, so that adding one member to a
     * group of 50,000 touches one row. */
    "CREATE TABLE IF NOT EXISTS scim_members ("
    " org VARCHAR(255) NOT NULL,"
    " group_id VARCHAR(64) NOT NULL,"
    " member_type VARCHAR(16) NOT NULL,"
    " member_id VARCHAR(64) NOT NULL,"
    " PRIMARY KEY (org, group_id, member_id))",
    /* a user's groups, and removing a deleted resource's memberships */
    "CREATE INDEX IF NOT EXISTS scim_members_member"
    " ON scim_members (org, member_id)",
    NULL
};

/* Membership and access: a user's active flag and seat as columns (the
 * seat count is an indexed COUNT), e-mail values in their own index (the
 * link attribute and the most common filter besides userName), the row
 * that serialises seat grants per organization across servers, the audit
 * trail and the tokens' last use. */
static const char *const migration_v2[] = {
    "ALTER TABLE scim_resources ADD COLUMN active INTEGER NOT NULL DEFAULT 1",
    "ALTER TABLE scim_resources ADD COLUMN seat INTEGER NOT NULL DEFAULT 0",
    "UPDATE scim_resources SET active = 0 WHERE rtype = 'User' AND"
    " (resource LIKE '%\"active\":false%'"
    " OR resource LIKE '%\"active\": false%')",
    "CREATE INDEX IF NOT EXISTS scim_resources_seat"
    " ON scim_resources (org, rtype, seat)",
    "CREATE TABLE IF NOT EXISTS scim_emails ("
    " org VARCHAR(255) NOT NULL,"
    " value_ci VARCHAR(1024) NOT NULL,"
    " user_id VARCHAR(64) NOT NULL,"
    " PRIMARY KEY (org, value_ci, user_id))",
    "CREATE INDEX IF NOT EXISTS scim_emails_user ON scim_emails (org, user_id)",
    "CREATE TABLE IF NOT EXISTS scim_seat_locks ("
    " org VARCHAR(255) NOT NULL PRIMARY KEY,"
    " grants INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS scim_audit ("
    " org VARCHAR(255) NOT NULL,"
    " at VARCHAR(32) NOT NULL,"
    " event VARCHAR(32) NOT NULL,"
    " actor VARCHAR(1024),"
    " address VARCHAR(64),"
    " rtype VARCHAR(16),"
    " resource_id VARCHAR(64),"
    " name VARCHAR(1024),"
    " outcome VARCHAR(32))",
    /* pruning by age, and an organization's latest events */
    "CREATE INDEX IF NOT EXISTS scim_audit_at ON scim_audit (at)",
    "CREATE INDEX IF NOT EXISTS scim_audit_org ON scim_audit (org, at)",
    "CREATE TABLE IF NOT EXISTS scim_tokens ("
    " org VARCHAR(255) NOT NULL,"
    " token VARCHAR(64) NOT NULL,"
    " last_used VARCHAR(32) NOT NULL,"
    " address VARCHAR(64),"
    " PRIMARY KEY (org, token))",
    NULL
};

/* A user's displayName beside its userName: what a group's members show
 * (RFC 7643 8.4: "Babs Jensen") without reading each member's JSON.
 * Users written before it show their userName until their next write. */
static const char *const migration_v3[] = {
    "ALTER TABLE scim_resources ADD COLUMN display_name VARCHAR(1024)",
    NULL
};

/* A group's members of one type in member id order, from the index
 * alone: their count (totalResults of "groups.value eq G") without a read
 * of each membership row, and a page of them sought by the last member id
 * of the page before rather than stepped over (100,000 members: the count
 * took 230 ms, the last page 310 ms more, through the primary key). */
static const char *const migration_v4[] = {
    "CREATE INDEX IF NOT EXISTS scim_members_type"
    " ON scim_members (org, group_id, member_type, member_id)",
    NULL
};

/* A member's groups from the index alone.  Without statistics SQLite
 * preferred scim_members_type, which covers that lookup, over the narrower
 * (org, member_id) index and read every membership row of the
 * organization for one member (every GET of a user, every access check);
 * an index led by member_id that covers it is the one it takes.  Not
 * member_type too: covering a group's member page as well, it was taken
 * for that page (member id order) and read every membership row. */
static const char *const migration_v5[] = {
    "CREATE INDEX IF NOT EXISTS scim_members_by_member"
    " ON scim_members (org, member_id, group_id)",
    "DROP INDEX IF EXISTS scim_members_member",
    NULL
};

/* A statement of a migration that only one driver runs starts with its
 * name; the rest of it is the SQL. */
#define ONLY_SQLITE "sqlite3:"
#define ONLY_PGSQL "pgsql:"
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

/* The e-mail index of users written before it existed (schema v1): until
 * now they were indexed at their next write; a write that leaves the
 * e-mails alone no longer rewrites the index.  Only users without any
 * index row, with what scim_store_index_emails keeps: string values of
 * 1..SCIM_STORE_MAX_KEY bytes, folded in ASCII (SQLite's lower() folds
 * ASCII only; PostgreSQL's would fold more, hence translate()). */
static const char *const migration_v6[] = {
    ONLY_SQLITE
    "INSERT OR IGNORE INTO scim_emails (org, value_ci, user_id)"
    " SELECT r.org, lower(json_extract(e.value, '$.value')), r.id"
    " FROM scim_resources r, json_each(r.resource, '$.emails') e"
    " WHERE r.rtype = 'User'"
    " AND json_type(r.resource, '$.emails') = 'array'"
    " AND json_type(e.value, '$.value') = 'text'"
    " AND length(CAST(json_extract(e.value, '$.value') AS BLOB))"
    " BETWEEN 1 AND " STRINGIFY(SCIM_STORE_MAX_KEY)
    " AND NOT EXISTS (SELECT 1 FROM scim_emails x"
    " WHERE x.org = r.org AND x.user_id = r.id)",
    ONLY_PGSQL
    "INSERT INTO scim_emails (org, value_ci, user_id)"
    " SELECT DISTINCT r.org, translate(e.value ->> 'value',"
    " 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), r.id"
    " FROM scim_resources r CROSS JOIN LATERAL jsonb_array_elements("
    " CASE WHEN jsonb_typeof(r.resource::jsonb -> 'emails') = 'array'"
    " THEN r.resource::jsonb -> 'emails' ELSE '[]'::jsonb END) AS e(value)"
    " WHERE r.rtype = 'User'"
    " AND jsonb_typeof(e.value -> 'value') = 'string'"
    " AND octet_length(e.value ->> 'value')"
    " BETWEEN 1 AND " STRINGIFY(SCIM_STORE_MAX_KEY)
    " AND NOT EXISTS (SELECT 1 FROM scim_emails x"
    " WHERE x.org = r.org AND x.user_id = r.id)"
    " ON CONFLICT DO NOTHING",
    NULL
};

/* PostgreSQL: the resource as jsonb beside its text, computed on every
 * write.  A filter or sort key read from the resource had cast the text
 * of every row it read (a pass over 100,000 users' displayName, one
 * worker: 490 ms cast, 63 ms stored).  The text column stays what the
 * store writes and reads: apr_dbd's pgsql driver declares every
 * parameter varchar, which PostgreSQL does not assign to jsonb. */
static const char *const migration_v7[] = {
    ONLY_PGSQL
    "ALTER TABLE scim_resources ADD COLUMN IF NOT EXISTS resource_jsonb"
    " jsonb GENERATED ALWAYS AS (resource::jsonb) STORED",
    NULL
};

/* The audit rows are pruned by organization (each by the retention in
 * effect where its own writes happen), through scim_audit_org: the index
 * on the time alone, which an insert on every write kept up, serves
 * nothing. */
static const char *const migration_v8[] = {
    "DROP INDEX IF EXISTS scim_audit_at",
    NULL
};

static const char *const *const migrations[] = {
    migration_v1,
    migration_v2,
    migration_v3,
    migration_v4,
    migration_v5,
    migration_v6,
    migration_v7,
    migration_v8,
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* ---- the statements ----------------------------------------------------- */

/* The columns of a record, in the order record_from_row reads them. */
#define RECORD_COLUMNS \
    "rtype, id, name, external_id, created, last_modified, version, state," \
    " linked, resource, active, seat, display_name"

/* The same columns of a resource joined as "r". */
#define RECORD_COLUMNS_R \
    "r.rtype, r.id, r.name, r.external_id, r.created, r.last_modified," \
    " r.version, r.state, r.linked, r.resource, r.active, r.seat," \
    " r.display_name"
/* How many they are: a column a statement adds after them has this
 * number. */
#define RECORD_COLUMN_COUNT 13

/* A user "r" joined to each group it belongs to, "g" (NULL columns for a
 * user in none): its groups read in the statement that reads it. */
#define GROUPS_OF_R \
    " LEFT JOIN scim_members m ON m.org = r.org AND m.member_id = r.id" \
    " LEFT JOIN scim_resources g ON g.org = m.org AND g.rtype = 'Group'" \
    " AND g.id = m.group_id"

/* Users, "r" in from and where, and a row for each group each belongs
 * to.  A group's row fills the record's columns: rtype 'Group', the
 * group's id and name, its member's id as external_id and its folded name
 * (the order of a user's groups) as created; NULL in the rest.  The
 * user's row comes once (a join would repeat its resource on every
 * group's row: 3.3 MB for a user in 1,000 groups), no column is added
 * (apr_dbd's sqlite3 driver fetches every column of every row under two
 * mutexes) and no ORDER BY (a sorter costs more than ordering a few rows
 * in C).  Its parameters are where's, twice. */
#define USERS_WITH_GROUPS(from, where) \
    "SELECT " RECORD_COLUMNS_R " FROM " from " WHERE " where \
    " UNION ALL SELECT 'Group', g.id, g.name, r.id, g.name_ci, NULL, NULL," \
    " NULL, NULL, NULL, NULL, NULL, NULL FROM " from \
    " CROSS JOIN scim_members m CROSS JOIN scim_resources g WHERE " where \
    " AND m.org = r.org AND m.member_id = r.id AND g.org = m.org" \
    " AND g.rtype = 'Group' AND g.id = m.group_id"

/* What an access check reads of a user, in scim_store_access.c's order. */
#define ACCESS_COLUMNS_R \
    "r.id, r.name, r.external_id, r.active, r.seat, r.state"

/* Placeholders for a batch of ids (SCIM_DB_GROUPS_BATCH of them): a fixed
 * statement serves any number of ids. */
#define TEN_IDS "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s"

/* Every statement the store runs: label (an SQL identifier, unique; the
 * key in the connection's table of prepared statements) and SQL with
 * apr_dbd's %s / %d placeholders, the same SQL for both drivers.
 *
 * Lookups through a side table (a member's groups, an e-mail address) are
 * written "side CROSS JOIN scim_resources": SQLite then reads the few side
 * rows first.  With a plain JOIN and an ORDER BY on the resource, SQLite
 * (which has no statistics here) walked every resource of the
 * organization in that order and probed the side table for each: 40 ms per
 * lookup at 100,000 users.  PostgreSQL plans CROSS JOIN ... WHERE as any
 * join. */
static const struct {
    const char *label;
    const char *sql;
} statements[SCIM_STMT_COUNT] = {
    [SCIM_STMT_RES_GET] = { "scim_res_get",
      "SELECT " RECORD_COLUMNS " FROM scim_resources"
      " WHERE org = %s AND rtype = %s AND id = %s" },
    /* a user, then its groups: one statement, one read of the pages the
     * last commit left stale, where two cost about 1.3 times as much CPU */
    [SCIM_STMT_USER_WITH_GROUPS] = { "scim_user_with_groups",
      USERS_WITH_GROUPS("scim_resources r",
                        "r.org = %s AND r.rtype = 'User' AND r.id = %s") },
    /* the lookups an IdP makes before every create, as one statement */
    [SCIM_STMT_USERS_BY_NAME_WITH_GROUPS] = { "scim_users_by_name_groups",
      USERS_WITH_GROUPS("scim_resources r",
                        "r.org = %s AND r.rtype = 'User' AND r.name_ci = %s") },
    [SCIM_STMT_USERS_BY_EXTERNAL_WITH_GROUPS] = {
      "scim_users_by_external_groups",
      USERS_WITH_GROUPS("scim_resources r", "r.org = %s AND r.rtype = 'User'"
                        " AND r.external_id = %s") },
    [SCIM_STMT_USERS_BY_EMAIL_WITH_GROUPS] = { "scim_users_by_email_groups",
      USERS_WITH_GROUPS("scim_emails e CROSS JOIN scim_resources r",
                        "e.org = %s AND e.value_ci = %s AND r.org = e.org"
                        " AND r.rtype = 'User' AND r.id = e.user_id") },
    /* the lookups without groups: no ORDER BY, scim_store_find puts what
     * they find in the default order */
    [SCIM_STMT_RES_BY_NAME] = { "scim_res_by_name",
      "SELECT " RECORD_COLUMNS " FROM scim_resources"
      " WHERE org = %s AND rtype = %s AND name_ci = %s" },
    [SCIM_STMT_RES_BY_EXTERNAL] = { "scim_res_by_external",
      "SELECT " RECORD_COLUMNS " FROM scim_resources"
      " WHERE org = %s AND rtype = %s AND external_id = %s" },
    [SCIM_STMT_RES_BY_EMAIL] = { "scim_res_by_email",
      "SELECT " RECORD_COLUMNS_R " FROM scim_emails e"
      " CROSS JOIN scim_resources r WHERE e.org = %s AND e.value_ci = %s"
      " AND r.org = e.org AND r.rtype = 'User' AND r.id = e.user_id" },
    [SCIM_STMT_RES_COUNT] = { "scim_res_count",
      "SELECT COUNT(*) FROM scim_resources"
      " WHERE org = %s AND rtype = %s" },
    [SCIM_STMT_RES_PAGE] = { "scim_res_page",
      "SELECT " RECORD_COLUMNS " FROM scim_resources"
      " WHERE org = %s AND rtype = %s ORDER BY created, id"
      " LIMIT %d OFFSET %d" },
    /* created >= first: the range the index seeks to.  SQLite plans a
     * statement before its parameters are bound, so in "created > %s OR
     * (created = %s AND ...)" it cannot know both are one value and
     * stepped over every row before the key (23 ms at 100,000 users). */
    [SCIM_STMT_RES_AFTER] = { "scim_res_after",
      "SELECT " RECORD_COLUMNS " FROM scim_resources"
      " WHERE org = %s AND rtype = %s AND created >= %s"
      " AND (created > %s OR id > %s) ORDER BY created, id LIMIT %d" },
    [SCIM_STMT_RES_NAME_OWNER] = { "scim_res_name_owner",
      "SELECT id FROM scim_resources"
      " WHERE org = %s AND rtype = %s AND name_ci = %s" },
    [SCIM_STMT_RES_INSERT] = { "scim_res_insert",
      "INSERT INTO scim_resources (org, rtype, id,"
      " name, name_ci, external_id, created, last_modified, version, state,"
      " linked, resource, active, seat, display_name) VALUES (%s, %s, %s, %s,"
      " %s, %s, %s, %s, %d, %s, %s, %s, %d, 0, %s)" },
    [SCIM_STMT_RES_UPDATE] = { "scim_res_update",
      "UPDATE scim_resources SET name = %s, name_ci = %s,"
      " external_id = %s, last_modified = %s, version = %d, resource = %s,"
      " active = %d, seat = seat * %d, display_name = %s"
      " WHERE org = %s AND rtype = %s AND id = %s AND version = %d" },
    /* The same when no indexed column changes (an IdP's PATCH of active,
     * of a title): SQLite rewrites every index that has a column in the
     * SET list, changed or not, and those were four random pages more to
     * journal and sync for each write. */
    [SCIM_STMT_RES_UPDATE_BODY] = { "scim_res_update_body",
      "UPDATE scim_resources SET last_modified = %s, version = %d,"
      " resource = %s, active = %d"
      " WHERE org = %s AND rtype = %s AND id = %s AND version = %d" },
    [SCIM_STMT_RES_TOUCH_ANY] = { "scim_res_touch_any",
      "UPDATE scim_resources SET last_modified = %s,"
      " version = version + 1 WHERE org = %s AND rtype = %s AND id = %s" },
    [SCIM_STMT_RES_VERSION] = { "scim_res_version",
      "SELECT version FROM scim_resources"
      " WHERE org = %s AND rtype = %s AND id = %s" },
    [SCIM_STMT_RES_TOUCH] = { "scim_res_touch",
      "UPDATE scim_resources SET last_modified = %s,"
      " version = %d WHERE org = %s AND rtype = %s AND id = %s"
      " AND version = %d" },
    [SCIM_STMT_RES_BUMP_USER] = { "scim_res_bump_user",
      "UPDATE scim_resources"
      " SET version = version + 1, last_modified = %s"
      " WHERE org = %s AND rtype = 'User' AND id = %s" },
    [SCIM_STMT_RES_BUMP_MEMBERS] = { "scim_res_bump_members",
      "UPDATE scim_resources"
      " SET version = version + 1, last_modified = %s"
      " WHERE org = %s AND rtype = 'User' AND id IN (SELECT member_id"
      " FROM scim_members WHERE org = %s AND group_id = %s)" },
    [SCIM_STMT_RES_BUMP_GROUPS_OF] = { "scim_res_bump_groups_of",
      "UPDATE scim_resources"
      " SET version = version + 1, last_modified = %s"
      " WHERE org = %s AND rtype = 'Group' AND id IN (SELECT group_id"
      " FROM scim_members WHERE org = %s AND member_id = %s)" },
    [SCIM_STMT_RES_NAME] = { "scim_res_name",
      "SELECT name FROM scim_resources"
      " WHERE org = %s AND rtype = %s AND id = %s" },
    [SCIM_STMT_RES_DELETE] = { "scim_res_delete",
      "DELETE FROM scim_resources"
      " WHERE org = %s AND rtype = %s AND id = %s" },
    [SCIM_STMT_RES_KIND] = { "scim_res_kind",
      "SELECT rtype FROM scim_resources"
      " WHERE org = %s AND rtype IN ('User', 'Group') AND id = %s" },
    [SCIM_STMT_RES_WITH_MEMBER] = { "scim_res_with_member",
      "SELECT " RECORD_COLUMNS_R
      " FROM scim_members m CROSS JOIN scim_resources r"
      " WHERE m.org = %s AND m.member_id = %s AND r.org = m.org"
      " AND r.rtype = 'Group' AND r.id = m.group_id"
      " ORDER BY r.created, r.id" },
    [SCIM_STMT_MEM_PAGE] = { "scim_mem_page",
      "SELECT m.member_id, m.member_type,"
      " COALESCE(r.display_name, r.name)"
      " FROM scim_members m JOIN scim_resources r ON r.org = m.org"
      " AND r.rtype = m.member_type AND r.id = m.member_id"
      " WHERE m.org = %s AND m.group_id = %s ORDER BY m.member_id"
      " LIMIT %d OFFSET %d" },
    [SCIM_STMT_MEM_COUNT] = { "scim_mem_count",
      "SELECT COUNT(*) FROM scim_members"
      " WHERE org = %s AND group_id = %s" },
    [SCIM_STMT_MEM_RECORDS] = { "scim_mem_records",
      "SELECT " RECORD_COLUMNS_R
      " FROM scim_members m JOIN scim_resources r ON r.org = m.org"
      " AND r.rtype = m.member_type AND r.id = m.member_id"
      " WHERE m.org = %s AND m.group_id = %s AND m.member_type = %s"
      " ORDER BY m.member_id LIMIT %d OFFSET %d" },
    [SCIM_STMT_MEM_RECORDS_AFTER] = { "scim_mem_records_after",
      "SELECT " RECORD_COLUMNS_R
      " FROM scim_members m JOIN scim_resources r ON r.org = m.org"
      " AND r.rtype = m.member_type AND r.id = m.member_id"
      " WHERE m.org = %s AND m.group_id = %s AND m.member_type = %s"
      " AND m.member_id > %s ORDER BY m.member_id LIMIT %d" },
    [SCIM_STMT_MEM_COUNT_TYPE] = { "scim_mem_count_type",
      "SELECT COUNT(*) FROM scim_members"
      " WHERE org = %s AND group_id = %s AND member_type = %s" },
    [SCIM_STMT_MEM_GROUPS_OF] = { "scim_mem_groups_of",
      "SELECT m.member_id, g.id, g.name"
      " FROM scim_members m CROSS JOIN scim_resources g"
      " WHERE m.org = %s AND m.member_id IN (" TEN_IDS ", " TEN_IDS ", "
      TEN_IDS ", " TEN_IDS ", " TEN_IDS ") AND g.org = m.org"
      " AND g.rtype = 'Group' AND g.id = m.group_id"
      " ORDER BY g.name_ci, g.id" },
    [SCIM_STMT_MEM_GROUPS_OF_ONE] = { "scim_mem_groups_of_one",
      "SELECT m.member_id, g.id, g.name"
      " FROM scim_members m CROSS JOIN scim_resources g"
      " WHERE m.org = %s AND m.member_id = %s AND g.org = m.org"
      " AND g.rtype = 'Group' AND g.id = m.group_id"
      " ORDER BY g.name_ci, g.id" },
    [SCIM_STMT_MEM_INSERT] = { "scim_mem_insert",
      "INSERT INTO scim_members (org, group_id,"
      " member_type, member_id) VALUES (%s, %s, %s, %s)"
      " ON CONFLICT DO NOTHING" },
    [SCIM_STMT_MEM_DELETE] = { "scim_mem_delete",
      "DELETE FROM scim_members"
      " WHERE org = %s AND group_id = %s AND member_id = %s" },
    [SCIM_STMT_MEM_CLEAR] = { "scim_mem_clear",
      "DELETE FROM scim_members"
      " WHERE org = %s AND group_id = %s" },
    [SCIM_STMT_MEM_FORGET] = { "scim_mem_forget",
      "DELETE FROM scim_members"
      " WHERE org = %s AND member_id = %s" },
    [SCIM_STMT_EMAIL_INSERT] = { "scim_email_insert",
      "INSERT INTO scim_emails (org, value_ci, user_id) VALUES (%s, %s, %s)"
      " ON CONFLICT DO NOTHING" },
    [SCIM_STMT_EMAIL_FORGET] = { "scim_email_forget",
      "DELETE FROM scim_emails WHERE org = %s AND user_id = %s" },
    /* the user an identity names with its groups, one row per group;
     * a second user's rows make the identity ambiguous */
    [SCIM_STMT_ACCESS_BY_NAME] = { "scim_access_by_name",
      "SELECT " ACCESS_COLUMNS_R ", g.id, g.name FROM scim_resources r"
      GROUPS_OF_R " WHERE r.org = %s AND r.rtype = 'User' AND r.name_ci = %s"
      " ORDER BY g.name_ci, g.id" },
    [SCIM_STMT_ACCESS_BY_EXTERNAL] = { "scim_access_by_external",
      "SELECT " ACCESS_COLUMNS_R ", g.id, g.name FROM scim_resources r"
      GROUPS_OF_R " WHERE r.org = %s AND r.rtype = 'User'"
      " AND r.external_id = %s ORDER BY r.id, g.name_ci, g.id" },
    [SCIM_STMT_ACCESS_BY_EMAIL] = { "scim_access_by_email",
      "SELECT " ACCESS_COLUMNS_R ", g.id, g.name"
      " FROM (SELECT r.org, " ACCESS_COLUMNS_R
      " FROM scim_emails e CROSS JOIN scim_resources r"
      " WHERE e.org = %s AND e.value_ci = %s AND r.org = e.org"
      " AND r.rtype = 'User' AND r.id = e.user_id ORDER BY r.id LIMIT 2) r"
      GROUPS_OF_R " ORDER BY r.id, g.name_ci, g.id" },
    [SCIM_STMT_SEATS_USED] = { "scim_seats_used",
      "SELECT COUNT(*) FROM scim_resources"
      " WHERE org = %s AND rtype = 'User' AND seat = 1" },
    [SCIM_STMT_SEAT_LOCK_ROW] = { "scim_seat_lock_row",
      "INSERT INTO scim_seat_locks (org, grants) VALUES (%s, 0)"
      " ON CONFLICT DO NOTHING" },
    [SCIM_STMT_SEAT_LOCK] = { "scim_seat_lock",
      "UPDATE scim_seat_locks SET grants = grants + 1 WHERE org = %s" },
    [SCIM_STMT_TAKE_SEAT] = { "scim_take_seat",
      "UPDATE scim_resources SET seat = 1, state = 'linked',"
      " linked = COALESCE(linked, %s), last_modified = %s,"
      " version = version + 1"
      " WHERE org = %s AND rtype = 'User' AND id = %s AND seat = 0"
      " AND active = 1" },
    [SCIM_STMT_HOLDS_SEAT] = { "scim_holds_seat",
      "SELECT COUNT(*) FROM scim_resources WHERE org = %s AND rtype = 'User'"
      " AND id = %s AND seat = 1 AND active = 1" },
    [SCIM_STMT_AUDIT_INSERT] = { "scim_audit_insert",
      "INSERT INTO scim_audit (org, at, event, actor, address, rtype,"
      " resource_id, name, outcome)"
      " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)" },
    [SCIM_STMT_AUDIT_PRUNE] = { "scim_audit_prune",
      "DELETE FROM scim_audit WHERE org = %s AND at < %s" },
    [SCIM_STMT_AUDIT_LATEST] = { "scim_audit_latest",
      "SELECT at, event, actor, address, rtype, resource_id, name, outcome"
      " FROM scim_audit WHERE org = %s ORDER BY at DESC LIMIT %d" },
    [SCIM_STMT_TOKEN_USED] = { "scim_token_used",
      "INSERT INTO scim_tokens (org, token, last_used, address)"
      " VALUES (%s, %s, %s, %s) ON CONFLICT (org, token) DO UPDATE"
      " SET last_used = excluded.last_used, address = excluded.address" },
    [SCIM_STMT_TOKENS_OF] = { "scim_tokens_of",
      "SELECT token, last_used, address FROM scim_tokens WHERE org = %s" },
    [SCIM_STMT_MEMBER_STATES] = { "scim_member_states",
      "SELECT state, active, seat, COUNT(*) FROM scim_resources"
      " WHERE org = %s AND rtype = 'User' GROUP BY state, active, seat" },
};

/* ---- the drivers: every difference between sqlite3 and pgsql ------------ */

/* libpq's functions the pgsql driver does not pass on, borrowed from the
 * libpq that driver has loaded into the process (mod_scim does not link
 * it): whether the connection is alive, which server process serves it
 * (a reconnect changes it), and error messages with their SQLSTATE. */
struct scim_db_libpq {
    int (*status)(const void *conn);                    /* PQstatus */
    int (*backend_pid)(const void *conn);               /* PQbackendPID */
    int (*set_error_verbosity)(void *conn, int verbosity);
};
#define PQ_CONNECTION_OK 0

/* The writers of one SQLite database in this process (group commit). */
typedef struct write_group write_group_t;

/* The statements that begin and end transactions (see run_tx). */
typedef enum {
    TX_BEGIN, TX_COMMIT, TX_ROLLBACK,
    TX_SAVEPOINT, TX_RELEASE, TX_ROLLBACK_TO,   /* a write of a group */
    TX_COUNT
} tx_stmt_t;
#define PQ_ERRORS_VERBOSE 2

/* What a connection keeps from one request to the next, allocated from
 * its pool and found in mod_dbd's table of its prepared statements. */
struct scim_db_conn {
    apr_pool_t *pool;                   /* lives as long as the connection */
    apr_dbd_prepared_t *stmts[SCIM_STMT_COUNT];
    apr_dbd_prepared_t *tx[TX_COUNT];   /* sqlite3: prepared, or NULL */
    int ready;                          /* set up: settings, schema,
                                         * statements */
    /* sqlite3 */
    const char *path;                   /* the database file, or NULL */
    int lock_fd;                        /* the writers' lock file, or -1 */
    int lock_depth;
    write_group_t *group;               /* its writers in this process, or
                                         * NULL: each write alone */
    dev_t dev;                          /* the file that was opened: a */
    ino_t ino;                          /* write checks it is still there */
    /* statements built from a filter (scim_db_select_dynamic), by their
     * text; never freed before the connection (apr_dbd cannot), hence
     * bounded */
    struct {
        const char *sql;
        apr_dbd_prepared_t *stmt;
    } dynamic[SCIM_DB_DYNAMIC_MAX];
    int ndynamic;
    /* pgsql */
    const scim_db_libpq_t *pq;          /* NULL: libpq not found */
    int backend;                        /* server process that holds our
                                         * named statements */
};

#define CONN_KEY "scim_db_connection"

static int is_sqlite(const scim_store_t *st)
{
    return strcmp(apr_dbd_name(st->driver), "sqlite3") == 0;
}

static const scim_db_libpq_t *find_libpq(apr_pool_t *p)
{
    void *lib = dlopen("libpq.so.5", RTLD_NOW | RTLD_NOLOAD);
    scim_db_libpq_t *pq;

    if (!lib) {
        return NULL;
    }
    pq = apr_pcalloc(p, sizeof(*pq));
    *(void **)&pq->status = dlsym(lib, "PQstatus");
    *(void **)&pq->backend_pid = dlsym(lib, "PQbackendPID");
    *(void **)&pq->set_error_verbosity = dlsym(lib, "PQsetErrorVerbosity");
    /* the driver keeps libpq loaded; this only drops our reference */
    dlclose(lib);
    return pq->status && pq->backend_pid && pq->set_error_verbosity ? pq
                                                                     : NULL;
}

static void *pg_conn(const scim_store_t *st)
{
    return apr_dbd_native_handle(st->driver, st->handle);
}

/* The label a statement is prepared under.  pgsql then keeps a named,
 * planned statement in the server process; a reconnect (mod_dbd resets a
 * broken connection in place) loses them, which the server process id
 * reveals, so without libpq's functions statements stay unnamed. */
static const char *prepare_label(const scim_store_t *st, scim_stmt_t which)
{
    return is_sqlite(st) || st->conn->pq ? statements[which].label : NULL;
}

/* A column's value, NULL for SQL NULL on both drivers (apr_dbd_get_entry
 * gives "" for NULL on pgsql).  Every value read goes through here. */
static const char *raw_entry(const scim_store_t *st, apr_dbd_row_t *row,
                             int col)
{
    const char *v = NULL;

    if (apr_dbd_datum_get(st->driver, row, col, APR_DBD_TYPE_STRING, &v)
        != APR_SUCCESS) {
        return NULL;
    }
    return v;
}

/* The text of a transaction statement.  SQLite's BEGIN IMMEDIATE takes
 * the write lock at once, so a transaction never has to upgrade from
 * reader to writer; a write of a group is a savepoint of its
 * transaction. */
static const char *tx_sql(const scim_store_t *st, tx_stmt_t which)
{
    static const char *const sql[TX_COUNT] = {
        [TX_BEGIN] = "BEGIN IMMEDIATE",
        [TX_COMMIT] = "COMMIT",
        [TX_ROLLBACK] = "ROLLBACK",
        [TX_SAVEPOINT] = "SAVEPOINT scim_write",
        [TX_RELEASE] = "RELEASE scim_write",
        [TX_ROLLBACK_TO] = "ROLLBACK TO scim_write",
    };

    return which == TX_BEGIN && !is_sqlite(st) ? "BEGIN" : sql[which];
}

/* SQLite's messages are fixed English text; its result codes as apr_dbd
 * passes them on are often the generic SQLITE_ERROR. */
static scim_db_failure_t sqlite_failure(int rv, const char *msg)
{
    static const struct {
        int code;
        const char *text;
        scim_db_failure_t kind;
    } known[] = {
        { 5, "database is locked", SCIM_DB_BUSY },
        { 6, "database table is locked", SCIM_DB_BUSY },
        { 17, "database schema has changed", SCIM_DB_STALE },
        { 13, "database or disk is full", SCIM_DB_FULL },
        { 8, "attempt to write a readonly database", SCIM_DB_READONLY },
        { 11, "database disk image is malformed", SCIM_DB_CORRUPT },
        { 26, "file is not a database", SCIM_DB_CORRUPT },
        /* what a statement that expired with the schema says next */
        { -1, "not an error", SCIM_DB_STALE },
    };
    size_t i;

    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (rv == known[i].code || (msg && strstr(msg, known[i].text))) {
            return known[i].kind;
        }
    }
    return SCIM_DB_FAILED;
}

/* The SQLSTATE in a verbose libpq message ("ERROR:  40P01: deadlock
 * detected"; the severity word may be translated, the code never is). */
static int pg_sqlstate(const char *msg, char state[6])
{
    const char *p = msg ? strstr(msg, ":  ") : NULL;
    int i;

    if (!p) {
        return 0;
    }
    p += 3;
    for (i = 0; i < 5; i++) {
        if (!p[i] || !strchr("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", p[i])) {
            return 0;
        }
        state[i] = p[i];
    }
    state[5] = '\0';
    return p[5] == ':';
}

static scim_db_failure_t pgsql_failure(const scim_store_t *st,
                                       const char *msg)
{
    char state[6];

    if (st->conn->pq
        && st->conn->pq->status(pg_conn(st)) != PQ_CONNECTION_OK) {
        return SCIM_DB_LOST;
    }
    if (!pg_sqlstate(msg, state)) {
        return SCIM_DB_FAILED;
    }
    if (!strcmp(state, "40P01") || !strcmp(state, "40001")) {
        return SCIM_DB_CONFLICT;     /* deadlock, serialization failure */
    }
    /* a named statement the session lost; a cached plan whose result
     * changed with the schema */
    if (!strcmp(state, "26000") || !strcmp(state, "0A000")) {
        return SCIM_DB_STALE;
    }
    if (!strcmp(state, "53100")) {
        return SCIM_DB_FULL;
    }
    if (!strcmp(state, "25006")) {
        return SCIM_DB_READONLY;
    }
    if (!strncmp(state, "XX", 2)) {
        return SCIM_DB_CORRUPT;
    }
    if (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3)) {
        return SCIM_DB_LOST;
    }
    return SCIM_DB_FAILED;
}

static scim_db_failure_t classify(const scim_store_t *st, int rv,
                                  const char *msg)
{
    return is_sqlite(st) ? sqlite_failure(rv, msg) : pgsql_failure(st, msg);
}

/* ---- errors ------------------------------------------------------------- */

/* What the client is told for each kind of failure, and the cause the log
 * names first. */
static const struct {
    int status;
    const char *detail;
    const char *cause;
} answers[] = {
    [SCIM_DB_NONE] = { 503, "The directory store is unavailable; retry later",
                       "failure" },
    [SCIM_DB_FAILED] = { 503, "The directory store is busy or unavailable;"
                         " retry later", "failure" },
    [SCIM_DB_BUSY] = { 503, "The directory store is busy; retry later",
                       "locked" },
    [SCIM_DB_CONFLICT] = { 503, "The directory store is busy; retry later",
                           "lock conflict" },
    [SCIM_DB_STALE] = { 503, "The directory store is busy; retry later",
                        "schema changed" },
    [SCIM_DB_LOST] = { 503, "The directory store is unavailable; retry"
                       " later", "connection lost" },
    [SCIM_DB_FULL] = { 507, "The directory store is out of space; retry"
                       " later", "disk full" },
    [SCIM_DB_READONLY] = { 503, "The directory store is read-only; retry"
                           " later", "read-only" },
    [SCIM_DB_CORRUPT] = { 500, "The directory store is damaged",
                          "database corrupt" },
    [SCIM_DB_MOVED] = { 503, "The directory store is unavailable; retry"
                        " later", "database file gone" },
};

static scim_error_t *failure_error(scim_store_t *st, scim_db_failure_t kind,
                                   const char *internal)
{
    scim_error_t *err = scim_error_make(st->pool, answers[kind].status, NULL,
                                        "%s", answers[kind].detail);

    st->failure = kind;
    err->internal = apr_psprintf(st->pool, "%s: %s", answers[kind].cause,
                                 internal);
    if (err->status != 500) {
        err->retry_after = SCIM_STORE_RETRY_AFTER;
    }
    return err;
}

/* A database failure, classified; the log gets the driver's message, read
 * before anything else can replace it. */
static scim_error_t *db_error(scim_store_t *st, int rv, const char *what)
{
    const char *msg = apr_dbd_error(st->driver, st->handle, rv);

    msg = msg ? apr_pstrdup(st->pool, msg) : "no message";
    return failure_error(st, classify(st, rv, msg),
                         apr_psprintf(st->pool, "%s failed (%d): %s", what,
                                      rv, msg));
}

static scim_error_t *missing_statement(scim_store_t *st, scim_stmt_t which)
{
    scim_error_t *err = scim_error_make(st->pool, 503, NULL,
        "The directory store is not ready; retry later");
    err->internal = apr_psprintf(st->pool, "statement %s is not prepared",
                                 statements[which].label);
    err->retry_after = SCIM_STORE_RETRY_AFTER;
    return err;
}

/* ---- set-up queries: plain SQL, before the statements are prepared ---- */

/* Runs a set-up query (a PRAGMA, a lock, a version) and reads it to the
 * end; *value, when value is not NULL, gets the first column of its last
 * row, or NULL. */
static int setup_query(scim_store_t *st, const char *sql, const char **value)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *last = NULL;
    int rv = apr_dbd_select(st->driver, st->pool, st->handle, &res, sql, 1);

    if (rv == 0) {
        while (apr_dbd_get_row(st->driver, st->pool, res, &row, -1) == 0) {
            last = value ? scim_db_entry(st, st->pool, row, 0) : NULL;
        }
    }
    if (value) {
        *value = last;
    }
    return rv;
}

static scim_error_t *setup_step(scim_store_t *st, const char *sql,
                                const char **value, const char *what)
{
    int rv = setup_query(st, sql, value);

    return rv != 0 ? db_error(st, rv, what) : NULL;
}

/* ---- SQLite's writers' lock --------------------------------------------- */

/* Writers of every process queue on a lock file beside the database
 * (flock, one open file per connection), so that BEGIN IMMEDIATE finds
 * SQLite's write lock free.  Waiting here blocks only this thread: apr_dbd's
 * sqlite3 driver instead sleeps 100 ms at a time while the lock is taken,
 * gives up after 15 tries, and SQLite's own busy_timeout would sleep
 * inside the driver's process-wide mutex. */
static scim_error_t *writer_lock(scim_store_t *st)
{
    scim_db_conn_t *conn = st->conn;

    if (conn->lock_fd < 0 || conn->lock_depth++ > 0) {
        return NULL;
    }
    while (flock(conn->lock_fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            conn->lock_depth = 0;
            return failure_error(st, SCIM_DB_FAILED, apr_psprintf(st->pool,
                                 "locking %s-lock: %s", conn->path,
                                 strerror(errno)));
        }
    }
    return NULL;
}

static void writer_unlock(scim_store_t *st)
{
    scim_db_conn_t *conn = st->conn;

    if (conn->lock_fd >= 0 && conn->lock_depth > 0
        && --conn->lock_depth == 0) {
        flock(conn->lock_fd, LOCK_UN);
    }
}

static apr_status_t close_lock_file(void *data)
{
    scim_db_conn_t *conn = data;

    if (conn->lock_fd >= 0) {
        close(conn->lock_fd);
        conn->lock_fd = -1;
    }
    return APR_SUCCESS;
}

/* Is the file DBDParams names still the one this connection opened?  A
 * removed or replaced database would take acknowledged writes into a file
 * nobody will read again. */
static scim_error_t *check_same_file(scim_store_t *st)
{
    scim_db_conn_t *conn = st->conn;
    struct stat now;
    scim_error_t *err;

    if (!conn->path || (stat(conn->path, &now) == 0
                        && now.st_dev == conn->dev
                        && now.st_ino == conn->ino)) {
        return NULL;
    }
    err = failure_error(st, SCIM_DB_MOVED, apr_psprintf(st->pool,
        "%s was removed or replaced since it was opened; writes are refused"
        " (restore the file and restart httpd)", conn->path));
    err->critical = 1;
    return err;
}

/* libsqlite3's functions the sqlite3 driver does not pass on, from the
 * library it loaded (mod_scim does not link it), found once a process:
 * the database's file name, and sqlite3_exec when the library is
 * thread-safe (run_tx's COMMIT). */
static struct {
    const char *(*db_filename)(void *db, const char *name);
    int (*exec)(void *db, const char *sql, void *callback, void *arg,
                char **errmsg);
} libsqlite;
static pthread_once_t libsqlite_once = PTHREAD_ONCE_INIT;

static void find_libsqlite(void)
{
    void *lib = dlopen("libsqlite3.so.0", RTLD_NOW | RTLD_NOLOAD);
    int (*threadsafe)(void) = NULL;

    if (!lib) {
        return;
    }
    *(void **)&libsqlite.db_filename = dlsym(lib, "sqlite3_db_filename");
    *(void **)&threadsafe = dlsym(lib, "sqlite3_threadsafe");
    if (threadsafe && threadsafe() != 0) {
        *(void **)&libsqlite.exec = dlsym(lib, "sqlite3_exec");
    }
    /* the driver keeps libsqlite3 loaded; this only drops our reference */
    dlclose(lib);
}

/* The database's file name: asking SQLite in SQL would read the schema,
 * which a new database's first writer may have locked. */
static const char *sqlite_file_name(scim_store_t *st)
{
    const char *path;

    pthread_once(&libsqlite_once, find_libsqlite);
    if (!libsqlite.db_filename) {
        return NULL;
    }
    path = libsqlite.db_filename(apr_dbd_native_handle(st->driver,
                                                       st->handle), "main");
    return apr_pstrdup(st->pool, path ? path : "");
}

/* The writes of this process waiting to be committed together, in
 * arrival order; one of them leads (see scim_db_write). */
typedef struct write_job write_job_t;
struct write_job {
    scim_store_t *st;                   /* the writer's own store */
    scim_db_write_fn fn;
    void *baton;
    scim_error_t *err;                  /* its answer, in st->pool */
    int done;                           /* answered */
    int lead;                           /* to lead the next group */
    write_job_t *next;
};

struct write_group {
    pthread_mutex_t lock;
    pthread_cond_t changed;             /* a job done, a leader named */
    write_job_t *head, *tail;           /* waiting, not yet taken */
    int leading;                        /* a leader runs a group */
};

/* The file each database path named when this process first opened it
 * (a connection made after the file was removed must not take the new,
 * empty one for it either), and the process's writers of it. */
#define FIRST_FILES 8
static struct {
    char path[1024];
    dev_t dev;
    ino_t ino;
    write_group_t group;
} first_files[FIRST_FILES];
static pthread_mutex_t first_files_lock = PTHREAD_MUTEX_INITIALIZER;

/* The first identity of path (into *dev, *ino), and its writers' group
 * (NULL when the table is full). */
static write_group_t *first_file(const char *path, dev_t *dev, ino_t *ino)
{
    write_group_t *group = NULL;
    int i;

    pthread_mutex_lock(&first_files_lock);
    for (i = 0; i < FIRST_FILES && first_files[i].path[0]; i++) {
        if (strcmp(first_files[i].path, path) == 0) {
            *dev = first_files[i].dev;
            *ino = first_files[i].ino;
            group = &first_files[i].group;
            break;
        }
    }
    if (i < FIRST_FILES && !first_files[i].path[0]
        && strlen(path) < sizeof(first_files[i].path)) {
        strcpy(first_files[i].path, path);
        first_files[i].dev = *dev;
        first_files[i].ino = *ino;
        group = &first_files[i].group;
        pthread_mutex_init(&group->lock, NULL);
        pthread_cond_init(&group->changed, NULL);
    }
    pthread_mutex_unlock(&first_files_lock);
    return group;
}

/* Where the database is, the writers' lock file beside it, and the file's
 * identity. */
static scim_error_t *sqlite_find_file(scim_store_t *st)
{
    scim_db_conn_t *conn = st->conn;
    const char *path = NULL;
    struct stat sb;

    if (conn->path) {
        return NULL;                    /* found at the first set-up */
    }
    if (!(path = sqlite_file_name(st))) {
        return failure_error(st, SCIM_DB_FAILED, "cannot find the database"
                             " file: sqlite3_db_filename is missing");
    }
    if (!*path) {
        return NULL;                    /* in memory: nothing to share */
    }
    if (stat(path, &sb) != 0) {
        return failure_error(st, SCIM_DB_MOVED, apr_psprintf(st->pool,
                             "%s: %s", path, strerror(errno)));
    }
    conn->lock_fd = open(apr_pstrcat(st->pool, path, "-lock", NULL),
                         O_RDWR | O_CREAT | O_CLOEXEC, 0660);
    if (conn->lock_fd < 0) {
        return failure_error(st, SCIM_DB_READONLY, apr_psprintf(st->pool,
                             "cannot create %s-lock: %s", path,
                             strerror(errno)));
    }
    apr_pool_cleanup_register(conn->pool, conn, close_lock_file,
                              apr_pool_cleanup_null);
    conn->path = apr_pstrdup(conn->pool, path);
    conn->dev = sb.st_dev;
    conn->ino = sb.st_ino;
    conn->group = first_file(conn->path, &conn->dev, &conn->ino);
    return NULL;
}

/* SQLite's per-connection settings.  WAL lets readers proceed beside the
 * writer across processes; synchronous=FULL makes every acknowledged
 * commit durable.  journal_mode answers the mode in effect, which must be
 * WAL: SQLite silently keeps its old journal when it cannot switch. */
static scim_error_t *sqlite_settings(scim_store_t *st)
{
    const char *mode = NULL;
    scim_error_t *err;

    if ((err = setup_step(st, "PRAGMA journal_mode=WAL", &mode,
                          "PRAGMA journal_mode"))) {
        return err;
    }
    if (!mode || strcasecmp(mode, "wal") != 0) {
        /* "memory": DBDParams named no file (empty, ":memory:") */
        return failure_error(st, SCIM_DB_READONLY, apr_psprintf(st->pool,
                             "SQLite stays in journal mode %s, not WAL%s",
                             mode ? mode : "unknown",
                             mode && strcasecmp(mode, "memory") == 0
                             ? " (DBDParams names no database file)" : ""));
    }
    if ((err = setup_step(st, "PRAGMA synchronous=FULL", NULL,
                          "PRAGMA synchronous"))) {
        return err;
    }
    /* A checkpoint runs inside the COMMIT that fills the WAL past this
     * many pages, holding the writers' lock: a larger WAL checkpoints
     * less often and writes each page written many times over once
     * (SQLite's 1,000 made POSTs a fifth slower). */
    if ((err = setup_step(st, "PRAGMA wal_autocheckpoint=8000", NULL,
                          "PRAGMA wal_autocheckpoint"))) {
        return err;
    }
    /* A group's savepoints journal the pages they change; past 64 KiB
     * SQLite spills that journal to a temporary file, written and read
     * back inside the writers' lock. */
    /* Every connection has a page cache of its own, and in WAL mode a
     * connection drops all of it whenever another has committed since
     * its last read: under writes it holds pages that are seldom read
     * again.  SQLite's 2 MiB each made 40 of a bench's 106 MB of worker
     * memory (29 connections) and made it grow as connections were
     * opened and filled; the pages stay in the kernel's cache anyway,
     * one pread away. */
    if ((err = setup_step(st, "PRAGMA cache_size=-256", NULL,
                          "PRAGMA cache_size"))) {
        return err;
    }
    return setup_step(st, "PRAGMA temp_store=MEMORY", NULL,
                      "PRAGMA temp_store");
}

/* pgsql: error messages that carry their SQLSTATE, and the server process
 * the statements are about to be prepared in. */
static void pgsql_settings(scim_store_t *st)
{
    if (st->conn->pq) {
        st->conn->pq->set_error_verbosity(pg_conn(st), PQ_ERRORS_VERBOSE);
        st->conn->backend = st->conn->pq->backend_pid(pg_conn(st));
    }
}

/* Has mod_dbd reconnected the connection in place (pgsql's check resets a
 * broken one)?  Then the session lost our statements. */
static int reconnected(const scim_store_t *st)
{
    return !is_sqlite(st) && st->conn->pq
           && st->conn->pq->backend_pid(pg_conn(st)) != st->conn->backend;
}

/* Inside the migration's transaction, makes the connections of every
 * process migrate one after the other.  On SQLite the writers' lock and
 * BEGIN IMMEDIATE already do; PostgreSQL takes an advisory lock. */
static scim_error_t *migration_lock(scim_store_t *st)
{
    if (is_sqlite(st)) {
        return NULL;
    }
    return setup_step(st, "SELECT pg_advisory_xact_lock(7368270)", NULL,
                      "migration lock");
}

/* Forgets the statements a session holds before they are prepared again
 * (pgsql keeps named ones until the session ends). */
static scim_error_t *forget_statements(scim_store_t *st)
{
    int n;

    if (is_sqlite(st) || !st->conn->pq) {
        return NULL;                /* sqlite3: finalized with the handle */
    }
    n = apr_dbd_query(st->driver, st->handle, &n, "DEALLOCATE ALL");
    return n != 0 ? db_error(st, n, "DEALLOCATE ALL") : NULL;
}

/* ---- statements --------------------------------------------------------- */

/* Prepares one statement into the connection's table. */
static scim_error_t *prepare_one(scim_store_t *st, scim_stmt_t which)
{
    apr_dbd_prepared_t *stmt = NULL;
    int rv = apr_dbd_prepare(st->driver, st->conn->pool, st->handle,
                             statements[which].sql,
                             prepare_label(st, which), &stmt);

    if (rv != 0) {
        return db_error(st, rv, statements[which].label);
    }
    st->conn->stmts[which] = stmt;
    return NULL;
}

/* Prepares the statements (again) into the connection's table.  sqlite3:
 * every one, now, during the set-up that holds the writers' lock.  pgsql:
 * none; each is prepared the first time the connection runs it
 * (statement()).  A PREPARE is a round trip to the server, and mod_dbd
 * opens connections while requests wait for them (a burst, a new child):
 * preparing all 50-odd statements there took a new connection's first
 * request 100-170 ms on a busy 2-CPU machine (a warm one takes 2-5 ms),
 * and when a burst opened several connections at once the reads and
 * writes behind them waited 0.3-1.9 s.  A request now prepares only what
 * it runs, the first time. */
static scim_error_t *prepare_statements(scim_store_t *st)
{
    scim_db_conn_t *conn = st->conn;
    scim_error_t *err;
    int i;

    if ((err = forget_statements(st))) {
        return err;
    }
    conn->ndynamic = 0;     /* prepared again when next used */
    for (i = 0; i < SCIM_STMT_COUNT; i++) {
        conn->stmts[i] = NULL;
    }
    for (i = 0; is_sqlite(st) && i < SCIM_STMT_COUNT; i++) {
        if ((err = prepare_one(st, i))) {
            return err;
        }
    }
    /* sqlite3 parses a statement run by apr_dbd_query at every call;
     * prepared, BEGIN and COMMIT and a savepoint's pair are not parsed at
     * every write.  (pgsql sends them unprepared.) */
    for (i = 0; is_sqlite(st) && i < TX_COUNT; i++) {
        apr_dbd_prepared_t *stmt = NULL;
        int rv;

        conn->tx[i] = NULL;
        rv = apr_dbd_prepare(st->driver, conn->pool, st->handle,
                             tx_sql(st, i), NULL, &stmt);
        if (rv != 0) {
            return db_error(st, rv, tx_sql(st, i));
        }
        conn->tx[i] = stmt;
    }
    return NULL;
}

/* The statement, prepared now if this (pgsql) connection has not run it
 * yet. */
static scim_error_t *statement(scim_store_t *st, scim_stmt_t which,
                               apr_dbd_prepared_t **stmt)
{
    scim_error_t *err;

    if (!st->conn->stmts[which] && !is_sqlite(st)
        && (err = prepare_one(st, which))) {
        return err;
    }
    *stmt = st->conn->stmts[which];
    return *stmt ? NULL : missing_statement(st, which);
}

/* After a statement failed outside a transaction: when its statements
 * went stale (another connection changed the schema), prepares them again
 * so that it can run once more. */
static int prepared_again(scim_store_t *st)
{
    if (st->in_transaction || st->failure != SCIM_DB_STALE
        || prepare_statements(st)) {
        return 0;
    }
    /* the statement runs again: a read that then succeeds inside a
     * group's job (scim_store_modify) is no failure of the group */
    st->failure = SCIM_DB_NONE;
    return 1;
}

scim_error_t *scim_db_exec(scim_store_t *st, scim_stmt_t which,
                           const char **args, int nargs, int *nrows)
{
    scim_error_t *err;
    int rv, n = 0, tries = 0;

    do {
        apr_dbd_prepared_t *stmt = NULL;

        if ((err = statement(st, which, &stmt))) {
            return err;
        }
        st->stats.statements++;
        rv = apr_dbd_pquery(st->driver, st->pool, st->handle, &n, stmt,
                            nargs, args);
        if (rv == 0) {
            st->stats.rows_written += n;
            if (nrows) {
                *nrows = n;
            }
            return NULL;
        }
        err = db_error(st, rv, statements[which].label);
    } while (tries++ == 0 && prepared_again(st));
    return err;
}

/* Runs a prepared select and hands every row to fn; the driver's status.
 * Every row is read to the end: pgsql needs it to clean the result up. */
static int run_select(scim_store_t *st, apr_pool_t *p,
                      apr_dbd_prepared_t *stmt, const char **args, int nargs,
                      scim_db_row_fn fn, void *baton)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rv;

    st->stats.statements++;
    /* Random access (1): pgsql then runs the statement synchronously and
     * reports its errors; sequential access waits 100 ms on an empty
     * result and turns a failed statement into "no rows". */
    rv = apr_dbd_pselect(st->driver, p, st->handle, &res, stmt, 1, nargs,
                         args);
    if (rv == 0) {
        while (apr_dbd_get_row(st->driver, p, res, &row, -1) == 0) {
            st->stats.rows_read++;
            fn(st, p, row, baton);
        }
    }
    return rv;
}

scim_error_t *scim_db_select(scim_store_t *st, apr_pool_t *p,
                             scim_stmt_t which, const char **args, int nargs,
                             scim_db_row_fn fn, void *baton)
{
    scim_error_t *err;
    int rv, tries = 0;

    do {
        apr_dbd_prepared_t *stmt = NULL;

        if ((err = statement(st, which, &stmt))) {
            return err;
        }
        if ((rv = run_select(st, p, stmt, args, nargs, fn, baton)) == 0) {
            return NULL;
        }
        err = db_error(st, rv, statements[which].label);
    } while (tries++ == 0 && prepared_again(st));
    return err;
}

/* The connection's prepared statement of text sql, prepared now if it is
 * new; NULL with *err NULL when the connection holds as many as it may. */
static apr_dbd_prepared_t *dynamic_statement(scim_store_t *st,
                                             const char *sql,
                                             scim_error_t **err)
{
    scim_db_conn_t *conn = st->conn;
    apr_dbd_prepared_t *stmt = NULL;
    const char *label = NULL;
    int i, rv;

    *err = NULL;
    for (i = 0; i < conn->ndynamic; i++) {
        if (strcmp(conn->dynamic[i].sql, sql) == 0) {
            return conn->dynamic[i].stmt;
        }
    }
    if (conn->ndynamic == SCIM_DB_DYNAMIC_MAX) {
        return NULL;
    }
    /* named like the fixed ones (prepare_label): one name per slot, the
     * slots emptied together with DEALLOCATE ALL */
    if (is_sqlite(st) || conn->pq) {
        label = apr_psprintf(conn->pool, "scim_dyn_%d", conn->ndynamic);
    }
    rv = apr_dbd_prepare(st->driver, conn->pool, st->handle, sql, label,
                         &stmt);
    if (rv != 0) {
        *err = db_error(st, rv, "prepare filter statement");
        (*err)->internal = apr_pstrcat(st->pool, (*err)->internal, ": ", sql,
                                       NULL);
        return NULL;
    }
    conn->dynamic[conn->ndynamic].sql = apr_pstrdup(conn->pool, sql);
    conn->dynamic[conn->ndynamic].stmt = stmt;
    conn->ndynamic++;
    return stmt;
}

scim_error_t *scim_db_select_dynamic(scim_store_t *st, apr_pool_t *p,
                                     const char *sql, const char **args,
                                     int nargs, scim_db_row_fn fn,
                                     void *baton, int *declined)
{
    scim_error_t *err;
    int rv, tries = 0;

    *declined = 0;
    do {
        apr_dbd_prepared_t *stmt = dynamic_statement(st, sql, &err);

        if (!stmt) {
            *declined = !err;
            return err;
        }
        if ((rv = run_select(st, p, stmt, args, nargs, fn, baton)) == 0) {
            return NULL;
        }
        err = db_error(st, rv, "filter statement");
    } while (tries++ == 0 && prepared_again(st));
    return err;
}

scim_sql_dialect_t scim_db_dialect(const scim_store_t *st)
{
    return is_sqlite(st) ? SCIM_SQL_SQLITE : SCIM_SQL_PGSQL;
}

/* The dynamic statements' texts: the records of a type (org, rtype bound
 * first) for which cond holds, cond's parameters bound next. */
const char *scim_db_sql_scan(apr_pool_t *p, const char *cond, int after)
{
    return apr_pstrcat(p, "SELECT " RECORD_COLUMNS_R " FROM scim_resources r"
                       " WHERE r.org = %s AND r.rtype = %s",
                       /* the shape scim_res_after has, for the same
                        * reason: an index seek, not a step from the start */
                       after ? " AND r.created >= %s AND (r.created > %s"
                               " OR r.id > %s)" : "",
                       " AND (", cond, ") ORDER BY r.created, r.id LIMIT %d",
                       NULL);
}

/* Whether an SQL sort key is a column of the row ("r.name_ci"), not an
 * expression computed from the resource (scim_sqlfilter_sort_key). */
static int is_column(const char *key)
{
    return strncmp(key, "r.", 2) == 0
           && key[2 + strspn(key + 2, "abcdefghijklmnopqrstuvwxyz_")] == '\0';
}

int scim_db_window_can_count(scim_sql_dialect_t dialect,
                             const scim_sql_cond_t *cond, const char *key)
{
    return dialect == SCIM_SQL_SQLITE && key && !is_column(key) && cond
           && cond->reads_resource;
}

/* SQL true where key x comes before key y in a window's order (absent
 * keys last, first when descending); never NULL. */
static const char *precedes(apr_pool_t *p, const char *x, const char *y,
                            int descending)
{
    return descending
        ? apr_pstrcat(p, "(", y, " IS NOT NULL AND (", x, " IS NULL OR ",
                      x, " > ", y, "))", NULL)
        : apr_pstrcat(p, "(", x, " IS NOT NULL AND (", y, " IS NULL OR ",
                      x, " < ", y, "))", NULL);
}

/* Matches read from the resource, ordered by a key from it (SQLite): one
 * pass over the rows keeps each match's row id and key (m), which then
 * give the count and the page, where a count apart would read and parse
 * every row again (a page of 100 of 41,000 matches among 100,000 users,
 * sorted by name.familyName: 0.29 s -> 0.16 s; of 100,000 matches
 * 0.28-0.33 s -> 0.20-0.24 s).  SQLite 3.35 and later materialize each
 * CTE used more than once (m, pk) rather than compute it again; older
 * ones give the same answers, slower.  The page's keys (pk: limit,
 * offset) bound it, from its first (a) to its last (b; none when the page
 * ends the matches): only the matches within are joined to their rows
 * and ordered in full, ties of key by created and id, and the offset
 * skips only the rows of key a before the page.  Ordering every match in
 * full (COUNT(*) OVER (), which this replaced) cost more than a second
 * pass; joining every match before the page as well made the page at
 * 99,901 of 100,000 take 1.1 s (now 0.3 s). */
static const char *counted_window(apr_pool_t *p, const char *key,
                                  const char *where, int descending)
{
    const char *nulls = descending ? " DESC NULLS FIRST" : " NULLS LAST";
    const char *before_a = precedes(p, "m.k", "(SELECT k FROM a)",
                                    descending);

    return apr_pstrcat(p,
        "WITH m AS (SELECT r.rowid AS rid, ", key, " AS k",
        where, "), pk AS (SELECT k FROM m ORDER BY k", nulls,
        " LIMIT %d OFFSET %d), a AS (SELECT k FROM pk ORDER BY k", nulls,
        " LIMIT 1), b AS (SELECT k FROM pk ORDER BY k", nulls,
        " LIMIT 1 OFFSET %d)"
        " SELECT " RECORD_COLUMNS_R ", (SELECT COUNT(*) FROM m)"
        " FROM m JOIN scim_resources r ON r.rowid = m.rid"
        " WHERE NOT ", before_a, " AND (NOT EXISTS (SELECT 1 FROM b) OR NOT ",
        precedes(p, "(SELECT k FROM b)", "m.k", descending), ")"
        " ORDER BY m.k", nulls, ", r.created, r.id"
        " LIMIT %d OFFSET (%d - (SELECT COUNT(*) FROM m WHERE ", before_a,
        "))", NULL);
}

const char *scim_db_sql_window(apr_pool_t *p, scim_sql_dialect_t dialect,
                               const scim_sql_cond_t *cond, const char *key,
                               int descending, int counting)
{
    const char *dir = descending ? " DESC" : "";
    const char *computed = key && !is_column(key) ? key : NULL;
    /* Absent keys last, first when descending.  The key columns are NOT
     * NULL: without a NULLS clause SQLite walks their index in order and
     * stops at the page's end (a filtered page sorted by userName: 130 ms
     * -> 8 ms at 100,000).  A NULLS clause rather than an "IS NULL" term
     * computes a key from the resource once per row, not twice. */
    const char *nulls = computed ? (descending ? " NULLS FIRST"
                                               : " NULLS LAST") : "";
    const char *order = apr_pstrcat(p, " ORDER BY ",
        key ? apr_pstrcat(p, key, dir, nulls, ", ", NULL) : "",
        "r.created, r.id", NULL);
    const char *where = apr_pstrcat(p, " FROM scim_resources r"
                                    " WHERE r.org = %s AND r.rtype = %s AND (",
                                    cond && cond->sql ? cond->sql : "TRUE",
                                    ")", NULL);

    if (counting) {
        return counted_window(p, computed, where, descending);
    }
    if (dialect == SCIM_SQL_SQLITE && computed) {
        /* SQLite's sorter copies each row it keeps whole, the resource
         * too: ordered by a key from the resource, rows that arrive in
         * the key's order (a descending sort of names created in order)
         * each entered it (0.32 s for 100,000 users).  The page's row ids
         * are sorted first, then its rows read (0.20 s). */
        return apr_pstrcat(p, "SELECT " RECORD_COLUMNS_R
                           " FROM scim_resources r WHERE r.rowid IN"
                           " (SELECT r.rowid", where, order,
                           " LIMIT %d OFFSET %d)", order, NULL);
    }
    return apr_pstrcat(p, "SELECT " RECORD_COLUMNS_R, where, order,
                       " LIMIT %d OFFSET %d", NULL);
}

const char *scim_db_sql_count(apr_pool_t *p, const char *cond)
{
    return apr_pstrcat(p, "SELECT COUNT(*) FROM scim_resources r"
                       " WHERE r.org = %s AND r.rtype = %s AND (", cond, ")",
                       NULL);
}

const char *scim_db_entry(scim_store_t *st, apr_pool_t *p,
                          apr_dbd_row_t *row, int col)
{
    const char *v = raw_entry(st, row, col);

    return v ? apr_pstrdup(p, v) : NULL;
}

int scim_db_entry_int(scim_store_t *st, apr_dbd_row_t *row, int col)
{
    const char *v = raw_entry(st, row, col);

    return v ? atoi(v) : 0;
}

/* A row of RECORD_COLUMNS as a record, with what reads asks
 * (SCIM_READ_STORED_TEXT, SCIM_READ_UNPARSED). */
static scim_record_t *record_from_row(scim_store_t *st, apr_pool_t *p,
                                      apr_dbd_row_t *row, int reads)
{
    scim_record_t *rec = apr_pcalloc(p, sizeof(*rec));
    const char *version, *json;

    rec->rtype = scim_db_entry(st, p, row, 0);
    rec->id = scim_db_entry(st, p, row, 1);
    rec->name = scim_db_entry(st, p, row, 2);
    rec->external_id = scim_db_entry(st, p, row, 3);
    rec->created = scim_db_entry(st, p, row, 4);
    rec->last_modified = scim_db_entry(st, p, row, 5);
    version = raw_entry(st, row, 6);
    rec->version = version ? atoi(version) : 0;
    rec->state = scim_db_entry(st, p, row, 7);
    rec->linked = scim_db_entry(st, p, row, 8);
    json = raw_entry(st, row, 9);
    if (reads & SCIM_READ_STORED_TEXT) {
        rec->stored_json = json ? apr_pstrdup(p, json) : NULL;
    }
    if (!(reads & SCIM_READ_STORED_TEXT) || !(reads & SCIM_READ_UNPARSED)) {
        rec->resource = scim_json_load_stored_object(p, json);
    }
    rec->active = scim_db_entry_int(st, row, 10);
    rec->seat = scim_db_entry_int(st, row, 11);
    rec->display_name = scim_db_entry(st, p, row, 12);
    return rec;
}

/* What push_record fills: records read as reads asks. */
typedef struct {
    apr_array_header_t *out;    /* scim_record_t * */
    int reads;
} records_t;

static void push_record(scim_store_t *st, apr_pool_t *p, apr_dbd_row_t *row,
                        void *baton)
{
    records_t *r = baton;

    APR_ARRAY_PUSH(r->out, scim_record_t *) =
        record_from_row(st, p, row, r->reads);
}

scim_error_t *scim_db_select_records(scim_store_t *st, apr_pool_t *p,
                                     scim_stmt_t which, const char **args,
                                     int nargs, apr_array_header_t *out)
{
    return scim_db_select_records_reading(st, p, which, args, nargs, 0, out);
}

scim_error_t *scim_db_select_records_reading(scim_store_t *st,
                                             apr_pool_t *p, scim_stmt_t which,
                                             const char **args, int nargs,
                                             int reads,
                                             apr_array_header_t *out)
{
    records_t r = { out, reads };

    return scim_db_select(st, p, which, args, nargs, push_record, &r);
}

void scim_db_push_group(scim_store_t *st, apr_pool_t *p, apr_dbd_row_t *row,
                        int col, apr_array_header_t *groups)
{
    const char *id = scim_db_entry(st, p, row, col);

    if (id) {
        scim_member_t *g = apr_array_push(groups);

        g->id = id;
        g->type = "Group";
        g->display = scim_db_entry(st, p, row, col + 1);
    }
}

/* A group's row of USERS_WITH_GROUPS. */
typedef struct {
    const char *member_id;
    const char *order;          /* the group's folded name */
    scim_member_t group;
} group_row_t;

/* What push_user_or_group fills. */
typedef struct {
    apr_array_header_t *users;  /* scim_record_t * */
    apr_array_header_t *group_rows;
    int reads;
} users_with_groups_t;

static void push_user_or_group(scim_store_t *st, apr_pool_t *p,
                               apr_dbd_row_t *row, void *baton)
{
    users_with_groups_t *u = baton;
    const char *rtype = raw_entry(st, row, 0);

    if (rtype && strcmp(rtype, "Group") == 0) {
        group_row_t *g = apr_array_push(u->group_rows);

        g->group.id = scim_db_entry(st, p, row, 1);
        g->group.display = scim_db_entry(st, p, row, 2);
        g->group.type = "Group";
        g->member_id = scim_db_entry(st, p, row, 3);
        g->order = scim_db_entry(st, p, row, 4);
    }
    else {
        APR_ARRAY_PUSH(u->users, scim_record_t *) =
            record_from_row(st, p, row, u->reads);
    }
}

static int compare_strings(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

/* The default order of resources: created, then id. */
static int compare_records(const void *a, const void *b)
{
    const scim_record_t *x = *(scim_record_t *const *)a;
    const scim_record_t *y = *(scim_record_t *const *)b;
    int c = compare_strings(x->created, y->created);

    return c ? c : compare_strings(x->id, y->id);
}

void scim_db_sort_records(apr_array_header_t *out, int first)
{
    qsort(out->elts + first * out->elt_size, out->nelts - first,
          out->elt_size, compare_records);
}

/* A user's groups in name order, then id: byte order, as SQLite's ORDER BY
 * in scim_store_member_groups (PostgreSQL's follows the database's
 * collation, which may place punctuation differently; no order is part
 * of SCIM). */
static int compare_group_rows(const void *a, const void *b)
{
    const group_row_t *x = a, *y = b;
    int c = compare_strings(x->order, y->order);

    return c ? c : compare_strings(x->group.id, y->group.id);
}

scim_error_t *scim_db_select_records_with_groups(scim_store_t *st,
                                                 apr_pool_t *p,
                                                 scim_stmt_t which,
                                                 const char **args, int nargs,
                                                 int reads,
                                                 apr_array_header_t *out)
{
    users_with_groups_t u = {
        out, apr_array_make(p, 4, sizeof(group_row_t)), reads
    };
    apr_hash_t *groups_of = apr_hash_make(p);
    int first = out->nelts, i;
    scim_error_t *err = scim_db_select(st, p, which, args, nargs,
                                       push_user_or_group, &u);

    if (err) {
        return err;
    }
    scim_db_sort_records(out, first);
    for (i = first; i < out->nelts; i++) {
        scim_record_t *rec = APR_ARRAY_IDX(out, i, scim_record_t *);
        apr_array_header_t *groups = apr_array_make(p, 4,
                                                    sizeof(scim_member_t));

        rec->groups = groups;
        apr_hash_set(groups_of, rec->id, APR_HASH_KEY_STRING, groups);
    }
    qsort(u.group_rows->elts, u.group_rows->nelts, sizeof(group_row_t),
          compare_group_rows);
    for (i = 0; i < u.group_rows->nelts; i++) {
        const group_row_t *g = &APR_ARRAY_IDX(u.group_rows, i, group_row_t);
        apr_array_header_t *groups = g->member_id
            ? apr_hash_get(groups_of, g->member_id, APR_HASH_KEY_STRING)
            : NULL;

        if (groups) {
            *(scim_member_t *)apr_array_push(groups) = g->group;
        }
    }
    return NULL;
}

/* What push_counted_record fills: the records, and the number each row
 * carries after them. */
typedef struct {
    records_t records;
    int *total;
} counted_records_t;

static void push_counted_record(scim_store_t *st, apr_pool_t *p,
                                apr_dbd_row_t *row, void *baton)
{
    counted_records_t *c = baton;

    push_record(st, p, row, &c->records);
    *c->total = scim_db_entry_int(st, row, RECORD_COLUMN_COUNT);
}

scim_error_t *scim_db_select_records_dynamic(scim_store_t *st, apr_pool_t *p,
                                             const char *sql,
                                             const char **args, int nargs,
                                             apr_array_header_t *out,
                                             int *total, int *declined)
{
    counted_records_t counted = { { out, 0 }, total };

    if (total) {
        return scim_db_select_dynamic(st, p, sql, args, nargs,
                                      push_counted_record, &counted,
                                      declined);
    }
    return scim_db_select_dynamic(st, p, sql, args, nargs, push_record,
                                  &counted.records, declined);
}

static void keep_first_value(scim_store_t *st, apr_pool_t *p,
                             apr_dbd_row_t *row, void *value)
{
    if (!*(const char **)value) {
        *(const char **)value = scim_db_entry(st, p, row, 0);
    }
}

scim_error_t *scim_db_select_value(scim_store_t *st, scim_stmt_t which,
                                   const char **args, int nargs,
                                   const char **value)
{
    *value = NULL;
    return scim_db_select(st, st->pool, which, args, nargs, keep_first_value,
                          value);
}

scim_error_t *scim_db_select_count(scim_store_t *st, scim_stmt_t which,
                                   const char **args, int nargs, int *count)
{
    const char *value = NULL;
    scim_error_t *err = scim_db_select_value(st, which, args, nargs, &value);

    *count = value ? atoi(value) : 0;
    return err;
}

scim_error_t *scim_db_select_count_dynamic(scim_store_t *st, const char *sql,
                                           const char **args, int nargs,
                                           int *count, int *declined)
{
    const char *value = NULL;
    scim_error_t *err = scim_db_select_dynamic(st, st->pool, sql, args, nargs,
                                               keep_first_value, &value,
                                               declined);

    *count = value ? atoi(value) : 0;
    return err;
}


/* ---- transactions ------------------------------------------------------- */

/* Transactions are plain BEGIN / COMMIT / ROLLBACK statements rather than
 * apr_dbd_transaction_start: pgsql's driver writes through the transaction
 * pointer it is given even when BEGIN fails (a crash on a dead
 * connection), and sqlite3's hands out a transaction that the connection
 * remembers after a failed BEGIN. */
static int run_sql(scim_store_t *st, const char *sql)
{
    int n;

    return apr_dbd_query(st->driver, st->handle, &n, sql);
}

static int run_tx(scim_store_t *st, tx_stmt_t which)
{
    apr_dbd_prepared_t *stmt = st->conn->tx[which];
    int n;

    /* apr_dbd's sqlite3 driver runs every statement inside one mutex of
     * the whole process: a COMMIT's fsync (and the checkpoint it may run)
     * would hold up every reader of this process for a millisecond or
     * more.  SQLite, built thread-safe, needs no such lock for a
     * connection only this thread uses: COMMIT goes to it directly. */
    if (which == TX_COMMIT && is_sqlite(st)) {
        pthread_once(&libsqlite_once, find_libsqlite);
        if (libsqlite.exec) {
            return libsqlite.exec(apr_dbd_native_handle(st->driver,
                                                        st->handle),
                                  tx_sql(st, which), NULL, NULL, NULL);
        }
    }
    if (!stmt) {
        return run_sql(st, tx_sql(st, which));
    }
    return apr_dbd_pquery(st->driver, st->pool, st->handle, &n, stmt, 0,
                          NULL);
}

/* Ends a transaction the request forgot (an error path, an aborted
 * request): a pooled connection must never keep an open transaction or
 * the writers' lock. */
static apr_status_t transaction_cleanup(void *data)
{
    scim_store_t *st = data;

    if (st->in_transaction) {
        run_tx(st, TX_ROLLBACK);
        st->in_transaction = 0;
        writer_unlock(st);
    }
    return APR_SUCCESS;
}

scim_error_t *scim_db_begin(scim_store_t *st)
{
    scim_error_t *err;
    int rv;

    st->failure = SCIM_DB_NONE;
    if (st->grouped) {
        if ((rv = run_tx(st, TX_SAVEPOINT)) != 0) {
            return db_error(st, rv, "savepoint");
        }
        st->in_transaction = 1;
        return NULL;
    }
    if ((err = writer_lock(st))) {
        return err;
    }
    if ((err = check_same_file(st))) {
        writer_unlock(st);
        return err;
    }
    if ((rv = run_tx(st, TX_BEGIN)) != 0) {
        err = db_error(st, rv, "begin transaction");
        run_tx(st, TX_ROLLBACK);    /* whatever BEGIN left behind */
        writer_unlock(st);
        return err;
    }
    st->in_transaction = 1;
    apr_pool_cleanup_register(st->pool, st, transaction_cleanup,
                              apr_pool_cleanup_null);
    return NULL;
}

scim_error_t *scim_db_end(scim_store_t *st, int rollback)
{
    scim_error_t *err = NULL;
    int rv;

    if (!st->in_transaction) {
        return NULL;
    }
    st->in_transaction = 0;
    if (st->grouped) {
        /* a savepoint rolled back stays open until released */
        if ((rollback && (rv = run_tx(st, TX_ROLLBACK_TO)) != 0)
            || (rv = run_tx(st, TX_RELEASE)) != 0) {
            return db_error(st, rv, rollback ? "rollback to savepoint"
                                             : "release savepoint");
        }
        return NULL;
    }
    apr_pool_cleanup_kill(st->pool, st, transaction_cleanup);
    if (rollback) {
        run_tx(st, TX_ROLLBACK);
    }
    else if ((rv = run_tx(st, TX_COMMIT)) != 0) {
        /* The cause (disk full, ...) is read before the ROLLBACK that
         * ends whatever the failed COMMIT left open replaces it. */
        err = db_error(st, rv, "commit");
        st->commit_failed = 1;
        run_tx(st, TX_ROLLBACK);
    }
    writer_unlock(st);
    return err;
}

/* ---- running a transaction again ---------------------------------------- */

static scim_error_t *connection_init(scim_store_t *st);

/* Connects again in place, as mod_dbd's check does before it hands a
 * connection out (pgsql resets it), and sets the new session up. */
static int reconnect(scim_store_t *st)
{
    int ok;

    if (st->reconnecting) {
        return 0;               /* the set-up of a new connection failed */
    }
    st->reconnecting = 1;
    ok = apr_dbd_check_conn(st->driver, st->pool, st->handle) == APR_SUCCESS
         && !connection_init(st);
    st->reconnecting = 0;
    return ok;
}

/* How often a transaction that lost a lock race runs at most. */
#define CONFLICT_ATTEMPTS 8

void scim_store_pause(int attempt)
{
    apr_uint32_t r = 0;
    apr_interval_time_t base = 2000 << (attempt < 6 ? attempt : 6);

    /* jitter, so that the writers that collided do not collide again */
    apr_generate_random_bytes((unsigned char *)&r, sizeof(r));
    apr_sleep(base / 2 + r % base);
}

int scim_db_again(scim_store_t *st, const scim_error_t *err, int *attempt)
{
    int limit;

    if (!err || err->status < 500 || st->in_transaction) {
        return 0;
    }
    switch (st->failure) {
    case SCIM_DB_CONFLICT:
        limit = CONFLICT_ATTEMPTS;
        break;
    case SCIM_DB_BUSY:      /* the sqlite3 driver waited 1.5 s already */
    case SCIM_DB_STALE:
        limit = 2;
        break;
    case SCIM_DB_LOST:
        /* Once, on a new connection, unless the COMMIT itself went
         * unanswered: it may have been applied. */
        if (st->commit_failed) {
            return 0;
        }
        limit = 2;
        break;
    default:
        return 0;
    }
    if (++*attempt >= limit) {
        return 0;
    }
    if (st->failure == SCIM_DB_STALE && prepare_statements(st)) {
        return 0;
    }
    if (st->failure == SCIM_DB_LOST && !reconnect(st)) {
        return 0;
    }
    st->failure = SCIM_DB_NONE;
    scim_store_pause(*attempt);
    return 1;
}

/* ---- group commit ------------------------------------------------------- */

/* At most this many writes share a transaction: a bound on how long the
 * first of them waits for the COMMIT. */
#define GROUP_MAX 32

static scim_error_t *error_copy(apr_pool_t *p, const scim_error_t *err)
{
    scim_error_t *copy = apr_pmemdup(p, err, sizeof(*err));

    copy->detail = apr_pstrdup(p, err->detail);
    copy->internal = err->internal ? apr_pstrdup(p, err->internal) : NULL;
    return copy;
}

/* A job answered with the group's failure (BEGIN or COMMIT), as if its
 * own transaction had failed so. */
static void fail_job(write_job_t *job, const scim_store_t *group,
                     const scim_error_t *err)
{
    job->err = error_copy(job->st->pool, err);
    job->st->failure = group->failure;
    job->st->commit_failed = group->commit_failed;
}

/* Runs one job, the group's place-th, on the group's connection (st, in
 * its transaction), with the job's own pool, audit context and counters.
 * Answers whether the database failed inside the group's transaction. */
static int run_job(scim_store_t *st, write_job_t *job, int place)
{
    scim_store_t js = *job->st;

    js.driver = st->driver;
    js.handle = st->handle;
    js.conn = st->conn;
    js.in_transaction = 0;
    js.grouped = place;
    js.failure = SCIM_DB_NONE;
    job->err = job->fn(&js, job->baton);
    if (js.in_transaction) {
        scim_db_end(&js, 1);            /* a write that forgot to end */
    }
    job->st->stats = js.stats;
    job->st->failure = js.failure;
    return js.failure != SCIM_DB_NONE;
}

/* Takes up to max waiting jobs off the queue. */
static write_job_t *take_jobs(write_group_t *g, int max)
{
    write_job_t *first, *last;
    int n;

    pthread_mutex_lock(&g->lock);
    first = last = g->head;
    for (n = 1; last && last->next && n < max; n++) {
        last = last->next;
    }
    if (last) {
        g->head = last->next;
        if (!g->head) {
            g->tail = NULL;
        }
        last->next = NULL;
    }
    pthread_mutex_unlock(&g->lock);
    return first;
}

/* The leader: one transaction for the jobs waiting now and those that
 * arrive while it runs them (up to GROUP_MAX), one COMMIT, then every job
 * answered and the next waiting one named leader. */
static void lead_group(scim_store_t *st, write_group_t *g)
{
    write_job_t *batch = NULL, **end = &batch, *j, *failed = NULL;
    scim_error_t *err = scim_db_begin(st);
    int n = 0;

    while (n < GROUP_MAX && (*end = take_jobs(g, GROUP_MAX - n))) {
        for (j = *end; j; end = &j->next, j = j->next, n++) {
            if (err || failed) {
                continue;               /* answered below */
            }
            if (run_job(st, j, n + 1)) {
                failed = j;
            }
        }
        if (err || failed) {
            break;
        }
    }
    if (err) {
        for (j = batch; j; j = j->next) {
            fail_job(j, st, err);
        }
    }
    else if (failed) {
        /* The database failed inside the transaction (which SQLite may
         * then have rolled back whole): nothing of the group is kept, the
         * failed write has its answer, the others run again. */
        scim_db_end(st, 1);
        for (j = batch; j; j = j->next) {
            if (j != failed) {
                j->err = failure_error(j->st, SCIM_DB_CONFLICT,
                    "a write committed with this one failed; run again");
            }
        }
        if (failed->st->failure == SCIM_DB_STALE) {
            prepare_statements(st);
        }
    }
    else if ((err = scim_db_end(st, 0))) {
        for (j = batch; j; j = j->next) {
            fail_job(j, st, err);
        }
    }
    pthread_mutex_lock(&g->lock);
    for (j = batch; j; j = j->next) {
        j->done = 1;
    }
    if (g->head) {
        g->head->lead = 1;
    }
    else {
        g->leading = 0;
    }
    pthread_cond_broadcast(&g->changed);
    pthread_mutex_unlock(&g->lock);
}

/* ---- statistics (PostgreSQL) ------------------------------------------ */

/* PostgreSQL plans the prepared statements from the tables' statistics.
 * A new database has none until autovacuum's first pass over it (a
 * minute, autovacuum_naptime, or later when its workers are busy), and
 * without them the planner took an (org, rtype, ...) index for a lookup
 * by name or id and read every user of the organization: an IdP's first
 * sync ran its lookups in O(n) (the benchmark's 10,000-member group
 * seeded in 24 s instead of 3).  So a process looks, after a write and at
 * most every STATS_CHECK_SECONDS, for a table with more than STATS_ROWS
 * rows that has no statistics or has more than doubled since them, and
 * analyzes it.  Constant SQL: nothing in it comes from a request. */
#define STATS_CHECK_SECONDS 5
#define STATS_ROWS "1000"

static const char *const analyzed_tables[] = {
    "scim_resources", "scim_members", "scim_emails"
};

static const char *const stale_statistics_sql =
    "SELECT c.relname FROM pg_class c"
    " JOIN pg_stat_user_tables s ON s.relid = c.oid"
    " WHERE c.oid IN (to_regclass('scim_resources'),"
    " to_regclass('scim_members'), to_regclass('scim_emails'))"
    " AND s.n_live_tup > " STATS_ROWS
    " AND (s.n_live_tup > 2 * c.reltuples"
    " OR COALESCE(s.last_analyze, s.last_autoanalyze) IS NULL)";

static apr_uint32_t stats_next_check;   /* apr_time_sec, this process */

static void keep_statistics(scim_store_t *st)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());
    apr_uint32_t next = apr_atomic_read32(&stats_next_check);
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int i, n;

    if (is_sqlite(st) || st->in_transaction || (apr_int32_t)(now - next) < 0
        || apr_atomic_cas32(&stats_next_check, now + STATS_CHECK_SECONDS,
                            next) != next) {
        return;                         /* one thread of the process looks */
    }
    if (apr_dbd_select(st->driver, st->pool, st->handle, &res,
                       stale_statistics_sql, 1) != 0) {
        return;                 /* a catalog it may not read: autovacuum's */
    }
    /* the rows are all read already (random access): the connection is
     * free for the ANALYZE of each table named, from our own list */
    while (apr_dbd_get_row(st->driver, st->pool, res, &row, -1) == 0) {
        const char *name = raw_entry(st, row, 0);

        for (i = 0; name && i < (int)(sizeof(analyzed_tables)
                                      / sizeof(analyzed_tables[0])); i++) {
            if (strcmp(name, analyzed_tables[i]) == 0) {
                apr_dbd_query(st->driver, st->handle, &n,
                              apr_pstrcat(st->pool, "ANALYZE ",
                                          analyzed_tables[i], NULL));
            }
        }
    }
}

/* One write, in a group when the database has one. */
static scim_error_t *write_once(scim_store_t *st, scim_db_write_fn fn,
                                void *baton)
{
    write_group_t *g = st->conn->group;
    write_job_t job = { st, fn, baton, NULL, 0, 0, NULL };

    if (!g || st->in_transaction || st->grouped) {
        return fn(st, baton);
    }
    pthread_mutex_lock(&g->lock);
    if (g->tail) {
        g->tail->next = &job;
    }
    else {
        g->head = &job;
    }
    g->tail = &job;
    if (!g->leading) {
        g->leading = job.lead = 1;
    }
    while (!job.done && !job.lead) {
        pthread_cond_wait(&g->changed, &g->lock);
    }
    pthread_mutex_unlock(&g->lock);
    if (!job.done) {
        lead_group(st, g);
    }
    return job.err;
}

int scim_db_writes_grouped(const scim_store_t *st)
{
    return st->conn->group != NULL;
}

scim_error_t *scim_db_write(scim_store_t *st, scim_db_write_fn fn,
                            void *baton)
{
    scim_error_t *err;
    int attempt = 0;

    do {
        err = write_once(st, fn, baton);
    } while (scim_db_again(st, err, &attempt));
    if (!err) {
        keep_statistics(st);
    }
    return err;
}

typedef struct {
    scim_stmt_t which;
    const char **args;
    int nargs;
} one_statement_t;

static scim_error_t *one_statement(scim_store_t *st, void *baton)
{
    const one_statement_t *one = baton;
    scim_error_t *err;

    if ((err = scim_db_begin(st))) {
        return err;
    }
    if ((err = scim_db_exec(st, one->which, one->args, one->nargs, NULL))) {
        scim_db_end(st, 1);
        return err;
    }
    return scim_db_end(st, 0);
}

scim_error_t *scim_db_exec_write(scim_store_t *st, scim_stmt_t which,
                                 const char **args, int nargs)
{
    one_statement_t one = { which, args, nargs };

    if (!st->conn->group || st->in_transaction) {
        return scim_db_exec(st, which, args, nargs, NULL);
    }
    return scim_db_write(st, one_statement, &one);
}

/* ---- connection set-up -------------------------------------------------- */

/* The schema version the database records; 0 when it has none yet (or
 * the table cannot be read, which the migration then settles). */
static int recorded_version(scim_store_t *st)
{
    const char *v = NULL;

    if (setup_query(st, "SELECT MAX(version) FROM scim_schema_version", &v)
        != 0) {
        return 0;
    }
    return v ? atoi(v) : 0;
}

static scim_error_t *too_new(scim_store_t *st, int version)
{
    scim_error_t *err = scim_error_make(st->pool, 503, NULL,
        "The directory store is unavailable; retry later");

    err->internal = apr_psprintf(st->pool, "database schema version %d is"
                                 " newer than this mod_scim (%d)", version,
                                 SCHEMA_VERSION);
    err->retry_after = SCIM_STORE_RETRY_AFTER;
    return err;
}

/* Runs one DDL or bookkeeping statement of the migration. */
static scim_error_t *migration_step(scim_store_t *st, const char *sql,
                                    const char *what)
{
    int rv = run_sql(st, sql);

    return rv != 0 ? db_error(st, rv, what) : NULL;
}

/* Brings the schema to SCHEMA_VERSION.  Connections of every process may
 * try at once: the version is read again under the migration lock. */
static scim_error_t *migrate(scim_store_t *st)
{
    scim_error_t *err;
    int version, i;

    version = recorded_version(st);
    if (version == SCHEMA_VERSION) {
        return NULL;
    }
    if (version > SCHEMA_VERSION) {
        return too_new(st, version);
    }
    if ((err = scim_db_begin(st))) {
        return err;
    }
    err = migration_lock(st);
    if (!err) {
        err = migration_step(st, "CREATE TABLE IF NOT EXISTS"
                             " scim_schema_version (version INTEGER NOT NULL)",
                             "schema version table");
    }
    if (!err) {
        version = recorded_version(st);
        if (version > SCHEMA_VERSION) {
            err = too_new(st, version);
        }
    }
    for (i = version; !err && i < SCHEMA_VERSION; i++) {
        const char *const *sql;

        for (sql = migrations[i]; *sql && !err; sql++) {
            const char *text = *sql;
            const char *mine = is_sqlite(st) ? ONLY_SQLITE : ONLY_PGSQL;
            const char *theirs = is_sqlite(st) ? ONLY_PGSQL : ONLY_SQLITE;

            if (strncmp(text, theirs, strlen(theirs)) == 0) {
                continue;
            }
            if (strncmp(text, mine, strlen(mine)) == 0) {
                text += strlen(mine);
            }
            err = migration_step(st, text, text);
        }
    }
    if (!err && version < SCHEMA_VERSION) {
        err = migration_step(st, apr_psprintf(st->pool, version == 0
            ? "INSERT INTO scim_schema_version (version) VALUES (%d)"
            : "UPDATE scim_schema_version SET version = %d", SCHEMA_VERSION),
            "recording schema version");
    }
    if (err) {
        scim_db_end(st, 1);
        return err;
    }
    return scim_db_end(st, 0);
}

/* Driver settings, schema migration, every statement prepared.  On SQLite
 * it all happens holding the writers' lock: set-up then never meets
 * another connection's write or migration (PRAGMA journal_mode busy,
 * "database schema has changed"). */
static scim_error_t *set_up_once(scim_store_t *st)
{
    scim_error_t *err = NULL;

    st->conn->ready = 0;
    if (is_sqlite(st)) {
        if ((err = sqlite_find_file(st)) || (err = writer_lock(st))) {
            return err;
        }
        err = sqlite_settings(st);
    }
    else {
        pgsql_settings(st);
    }
    if (!err) {
        err = migrate(st);
    }
    if (!err) {
        err = prepare_statements(st);
    }
    writer_unlock(st);
    st->conn->ready = !err;
    return err;
}

/* Sets the connection up the first time, and again after a reconnect;
 * waits out other connections' set-up and schema changes. */
static scim_error_t *connection_init(scim_store_t *st)
{
    scim_error_t *err;
    int attempt = 0;

    if (st->conn->ready && !reconnected(st)) {
        return NULL;
    }
    do {
        err = set_up_once(st);
    } while (scim_db_again(st, err, &attempt));
    return err;
}

/* The connection's own state, made the first time it is seen. */
static scim_db_conn_t *connection_state(apr_hash_t *prepared,
                                        apr_pool_t *conn_pool,
                                        const scim_store_t *st)
{
    scim_db_conn_t *conn = apr_hash_get(prepared, CONN_KEY,
                                        APR_HASH_KEY_STRING);

    if (!conn) {
        conn = apr_pcalloc(conn_pool, sizeof(*conn));
        conn->pool = conn_pool;
        conn->lock_fd = -1;
        conn->pq = is_sqlite(st) ? NULL : find_libpq(conn_pool);
        apr_hash_set(prepared, CONN_KEY, APR_HASH_KEY_STRING, conn);
    }
    return conn;
}

/* ---- opening the store ------------------------------------------------- */

scim_error_t *scim_store_open(apr_pool_t *p, const apr_dbd_driver_t *driver,
                              apr_dbd_t *handle, apr_hash_t *prepared,
                              apr_pool_t *conn_pool, scim_store_t **out)
{
    /* From p: the transaction cleanup refers to the store until p ends. */
    scim_store_t *st = apr_pcalloc(p, sizeof(*st));
    scim_error_t *err;

    st->pool = p;
    st->driver = driver;
    st->handle = handle;
    st->conn = connection_state(prepared, conn_pool, st);
    *out = NULL;
    if ((err = connection_init(st))) {
        return err;
    }
    *out = st;
    return NULL;
}

scim_store_stats_t scim_store_stats(const scim_store_t *st)
{
    return st->stats;
}

int scim_store_schema_version(void)
{
    return SCHEMA_VERSION;
}
