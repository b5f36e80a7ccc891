/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* Between the store's own files: the membership work that resource writes
 * (scim_store.c) do inside their transaction (scim_store_members.c). */

#ifndef SCIM_STORE_INT_H
#define SCIM_STORE_INT_H

#include "scim_db.h"
#include "scim_seat.h"

/* Applies membership changes (scim_member_op_t, or NULL) to a group.
 * Added ids must be users or groups of the organization (and not the group
 * itself); a user whose memberships changed gets a new version. */
scim_error_t *scim_store_apply_member_ops(scim_store_t *st, const char *org,
                                          const char *group_id,
                                          const apr_array_header_t *ops);

/* Removes every membership of a deleted resource of type rtype: as a
 * member of groups, and as a group; the resources on the other side of
 * them get a new version. */
scim_error_t *scim_store_forget_memberships(scim_store_t *st,
                                            const char *org,
                                            const char *rtype,
                                            const char *id);

/* Indexes a user's e-mail values (replace: forgets the old ones first). */
scim_error_t *scim_store_index_emails(scim_store_t *st, const char *org,
                                      const char *user_id,
                                      const json_t *resource, int replace);
scim_error_t *scim_store_forget_emails(scim_store_t *st, const char *org,
                                       const char *user_id);
/* Whether two resources give the e-mail index the same rows (the values it
 * keeps, case folded, in the same order). */
int scim_store_same_emails(apr_pool_t *p, const json_t *a, const json_t *b);

/* Inside a write's transaction: the audit row of what it does (the event
 * of scim_store_set_audit when event is NULL), and the pruning of the
 * organization's rows past their retention.  Nothing when no actor is
 * set. */
scim_error_t *scim_store_audit_in_tx(scim_store_t *st, const char *org,
                                     const char *event, const char *rtype,
                                     const char *id, const char *name,
                                     const char *outcome);

/* Its two parts, for a write that takes a contended row between them:
 * the row, then the prune (after every row the write locks, so that two
 * writers pruning the same expired rows cannot wait for each other). */
scim_error_t *scim_store_audit_row_in_tx(scim_store_t *st, const char *org,
                                         const char *event, const char *rtype,
                                         const char *id, const char *name,
                                         const char *outcome);
scim_error_t *scim_store_audit_prune_in_tx(scim_store_t *st, const char *org);

/* Whether org's expired audit rows are to be pruned at now: the first time
 * in this process, then once SCIM_AUDIT_PRUNE_INTERVAL has passed since
 * the last prune (which a true answer counts as done). */
#define SCIM_AUDIT_PRUNE_INTERVAL apr_time_from_sec(60)
int scim_store_audit_prune_due(const char *org, apr_time_t now);

/* Whether every operation of ops adds a member. */
int scim_store_member_ops_only_add(const apr_array_header_t *ops);

#endif /* SCIM_STORE_INT_H */
