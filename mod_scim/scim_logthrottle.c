/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* Holding back repeated log lines (scim_logthrottle.h). */

#include <string.h>

#include <apr_strings.h>

#include "scim_logthrottle.h"

/* The slot of key, or the one to take for it: an unused slot, else the
 * one logged longest ago. */
static scim_log_throttle_slot_t *slot_for(scim_log_throttle_t *t,
                                          const char *key, int *found)
{
    scim_log_throttle_slot_t *s, *free_slot = NULL, *oldest = NULL;
    int i;

    *found = 0;
    for (i = 0; i < SCIM_LOG_THROTTLE_SLOTS; i++) {
        s = &t->slots[i];
        if (!s->key[0]) {
            free_slot = free_slot ? free_slot : s;
        }
        else if (strncmp(s->key, key, sizeof(s->key) - 1) == 0) {
            *found = 1;
            return s;
        }
        else if (!oldest || s->logged < oldest->logged) {
            oldest = s;
        }
    }
    return free_slot ? free_slot : oldest;
}

int scim_log_throttle_admit(scim_log_throttle_t *t, const char *key,
                            apr_time_t now, unsigned *held_back)
{
    int found;
    scim_log_throttle_slot_t *s = slot_for(t, key, &found);

    *held_back = 0;
    if (found && now - s->logged < t->window) {
        s->held_back++;
        return 0;
    }
    if (found) {
        *held_back = s->held_back;
    }
    else {
        apr_cpystrn(s->key, key, sizeof(s->key));
    }
    s->logged = now;
    s->held_back = 0;
    return 1;
}
