/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* Holding back repeated log lines: an IdP retrying with a wrong token every
 * second must not fill the error log, yet the administrator must still see
 * that it goes on, and how often.  A line is identified by a key the caller
 * builds (what happened, to whom, from where).  The first line of a key is
 * logged; identical ones within the window are counted, and the next one
 * after the window is logged with that count.
 *
 * No locking here: the caller serializes the calls (a process-wide mutex
 * in the glue). */

#ifndef SCIM_LOGTHROTTLE_H
#define SCIM_LOGTHROTTLE_H

#include <apr_time.h>

#define SCIM_LOG_THROTTLE_SLOTS 64
#define SCIM_LOG_THROTTLE_KEY_MAX 256

typedef struct scim_log_throttle_slot {
    char key[SCIM_LOG_THROTTLE_KEY_MAX];    /* "" while unused */
    apr_time_t logged;                      /* when the key was last logged */
    unsigned held_back;                     /* identical lines since then */
} scim_log_throttle_slot_t;

/* Zero it, then set window; static storage needs nothing else. */
typedef struct scim_log_throttle {
    apr_interval_time_t window;
    scim_log_throttle_slot_t slots[SCIM_LOG_THROTTLE_SLOTS];
} scim_log_throttle_t;

/* Whether the line with this key is to be logged at time now (1) or held
 * back (0).  When it is to be logged, *held_back gets the number of
 * identical lines held back since the key was last logged.  Keys longer
 * than SCIM_LOG_THROTTLE_KEY_MAX - 1 bytes are compared on that prefix.
 * With every slot taken, the key logged longest ago gives its slot up (its
 * count is lost: the table stays small and fixed). */
int scim_log_throttle_admit(scim_log_throttle_t *t, const char *key,
                            apr_time_t now, unsigned *held_back);

#endif /* SCIM_LOGTHROTTLE_H */
