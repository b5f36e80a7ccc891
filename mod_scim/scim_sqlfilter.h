/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* A parsed filter (scim_filter.h) as an SQL condition over a stored
 * resource row, so that the database hands the C evaluator only
 * candidates instead of the whole organization.  The C evaluator stays
 * the judge: the condition holds for every resource the filter matches
 * (a superset), and may hold for others.
 *
 * The condition refers to the row as "r" (r.resource, the stored JSON as
 * TEXT; r.created, r.last_modified, r.id) and carries apr_dbd "%s"
 * placeholders, one per parameter, in order: values are always bound,
 * never written into the SQL.  Attribute names written into it come from
 * the schema definitions (canonical spelling, letters and digits only),
 * never from the request.
 *
 * What is translated (everything else becomes TRUE, which keeps the
 * superset; an "or" with an untranslated side becomes TRUE as a whole):
 *   - core attributes with a definition, as the store writes them
 *     (scim_schema_check_resource: canonical names, values type-checked,
 *     multi-valued ones arrays, nulls and empty arrays dropped):
 *     single-valued strings (userName, displayName, title, externalId,
 *     ...), sub-attributes of single-valued complex ones (name.familyName),
 *     sub-attributes of multi-valued complex ones (emails.value,
 *     emails[type eq "work" and value eq "x"], emails[...].value eq "x",
 *     "emails co x" meaning emails.value) as EXISTS over the elements,
 *     and booleans (active, emails.primary);
 *   - operators eq, ne, co, sw, ew, gt, ge, lt, le and pr on strings
 *     (caseExact from the definition: ASCII folding as in C, through
 *     SQLite's LIKE and lower(), which fold ASCII only, and PostgreSQL's
 *     translate() of A-Z; byte order: SQLite's BINARY collation,
 *     PostgreSQL's "C"), eq / ne / pr on booleans, "eq null" / "ne null";
 *   - attributes of the enterprise extension (department, employeeNumber,
 *     manager.value, ...), stored under the extension's URN;
 *   - meta.created and meta.lastModified compared as instants, through
 *     their columns (RFC 3339 UTC with milliseconds: text order is time
 *     order);
 *   - and, or, not (not only over an exact translation).
 * Not translated: the membership extension (computed from columns) and
 * undeclared extensions, groups / members (computed), id, numbers,
 * dateTimes other than meta's, meta's other sub-attributes, $ref.
 *
 * On SQLite, where a string comparison (eq, co, sw, ew) or a boolean one
 * must hold, the condition first asks that the resource's text contain
 * the literal (instr, or LIKE ignoring case) when jansson writes the
 * literal verbatim (printable ASCII without '"', '\\' and '/'): far
 * cheaper than parsing the JSON, and implied by the comparison, so
 * exactness stays.  PostgreSQL reads a stored jsonb copy of the resource
 * (resource_jsonb), cheaper than such a text test.
 *
 * exact is set when the condition holds for precisely the resources the
 * filter matches (every part translated, and the stored form as above),
 * so that a COUNT with it is the number of matches. */

#ifndef SCIM_SQLFILTER_H
#define SCIM_SQLFILTER_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "scim_filter.h"

typedef enum {
    SCIM_SQL_SQLITE,            /* json_extract, json_each (SQLite 3.38+) */
    SCIM_SQL_PGSQL              /* jsonb operators on resource::jsonb */
} scim_sql_dialect_t;

typedef struct scim_sql_cond {
    const char *sql;            /* NULL: nothing translated (TRUE) */
    apr_array_header_t *params; /* const char *, one per "%s" in sql */
    int exact;
    int reads_resource;         /* sql reads r.resource: no index answers
                                 * it, each row's text is read */
} scim_sql_cond_t;

/* Translates f (parsed for resource type rt; NULL: no filter) for the
 * dialect.  Never fails: what cannot be translated widens the result. */
scim_sql_cond_t scim_sqlfilter_translate(apr_pool_t *p,
                                         const scim_filter_t *f,
                                         scim_sql_dialect_t dialect);

/* An SQL expression giving the sort key of sortBy path whose order (SQL
 * ascending, NULLs placed as the caller asks) is the C sort order
 * (scim_value_compare on scim_sort_value, absent last), or NULL when
 * there is none the database can mirror.  Only single-valued strings
 * and the meta dateTimes are ordered in SQL. */
const char *scim_sqlfilter_sort_key(apr_pool_t *p,
                                    const scim_attr_path_t *path,
                                    scim_sql_dialect_t dialect);

#endif /* SCIM_SQLFILTER_H */
