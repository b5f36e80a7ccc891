/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* Membership states and seats: the one owner of the rules that decide
 * whether a provisioned member may enter an SSO-protected location.
 *
 *   provisioned --first admitted sign-in--> linked (+ seat)
 *   linked + seat --active false / delete--> linked, no seat
 *   linked, no seat --next sign-in, seat free--> linked + seat
 *
 * The store carries out each transition as a conditional UPDATE, so that
 * the database, not the process, decides races between servers. */

#ifndef SCIM_SEAT_H
#define SCIM_SEAT_H

typedef enum {
    SCIM_STATE_PROVISIONED,
    SCIM_STATE_LINKED
} scim_member_state_t;

/* The names served in the membership extension and stored in the state
 * column. */
const char *scim_state_name(scim_member_state_t state);
/* SCIM_STATE_PROVISIONED for NULL, "" or an unknown name. */
scim_member_state_t scim_state_parse(const char *name);

/* What a member's request gets. */
typedef enum {
    SCIM_ACCESS_ADMIT,          /* active and holding a seat */
    SCIM_ACCESS_TAKE_SEAT,      /* active, no seat yet, one is free: admit
                                   once the seat is taken */
    SCIM_ACCESS_UNKNOWN,        /* no such member (or deleted) */
    SCIM_ACCESS_INACTIVE,       /* the IdP deactivated the member */
    SCIM_ACCESS_NO_SEAT,        /* every seat is taken */
    SCIM_ACCESS_NOT_IN_GROUP    /* Require scim-group: not a member */
} scim_access_t;

/* A member as the access rules see it. */
typedef struct scim_seat_member {
    int active;
    int seat;
} scim_seat_member_t;

/* No limit on seats. */
#define SCIM_SEATS_UNLIMITED 0

/* The decision for member (NULL: unknown), given how many seats the
 * organization's members hold and its limit (SCIM_SEATS_UNLIMITED: none).
 * seats_used is only read when the member holds no seat. */
scim_access_t scim_seat_decide(const scim_seat_member_t *member,
                               int seats_used, int seat_limit);

/* Whether a decision admits the request. */
int scim_access_admits(scim_access_t access);

/* A short word for logs, the audit trail and the status page
 * ("admitted", "unknown", "inactive", "no-seat", "not-in-group"). */
const char *scim_access_name(scim_access_t access);

#endif /* SCIM_SEAT_H */
