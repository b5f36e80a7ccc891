/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

#include <string.h>

#include "scim_seat.h"

const char *scim_state_name(scim_member_state_t state)
{
    return state == SCIM_STATE_LINKED ? "linked" : "provisioned";
}

scim_member_state_t scim_state_parse(const char *name)
{
    return name && strcmp(name, "linked") == 0 ? SCIM_STATE_LINKED
                                               : SCIM_STATE_PROVISIONED;
}

scim_access_t scim_seat_decide(const scim_seat_member_t *member,
                               int seats_used, int seat_limit)
{
    if (!member) {
        return SCIM_ACCESS_UNKNOWN;
    }
    if (!member->active) {
        return SCIM_ACCESS_INACTIVE;
    }
    if (member->seat) {
        return SCIM_ACCESS_ADMIT;
    }
    if (seat_limit != SCIM_SEATS_UNLIMITED && seats_used >= seat_limit) {
        return SCIM_ACCESS_NO_SEAT;
    }
    return SCIM_ACCESS_TAKE_SEAT;
}

int scim_access_admits(scim_access_t access)
{
    return access == SCIM_ACCESS_ADMIT || access == SCIM_ACCESS_TAKE_SEAT;
}

const char *scim_access_name(scim_access_t access)
{
    switch (access) {
    case SCIM_ACCESS_ADMIT:
    case SCIM_ACCESS_TAKE_SEAT:
        return "admitted";
    case SCIM_ACCESS_UNKNOWN:
        return "unknown";
    case SCIM_ACCESS_INACTIVE:
        return "inactive";
    case SCIM_ACCESS_NO_SEAT:
        return "no-seat";
    case SCIM_ACCESS_NOT_IN_GROUP:
        return "not-in-group";
    }
    return "unknown";
}
