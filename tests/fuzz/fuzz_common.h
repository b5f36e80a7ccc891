/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* What the libFuzzer targets of the core share: per-input pools, the fixed
 * resources inputs are applied to, and the checks every target makes.
 * A failed check aborts, which libFuzzer reports as a crash with the
 * input that caused it. */

#ifndef SCIM_FUZZ_COMMON_H
#define SCIM_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <apr_pools.h>
#include <jansson.h>

#include "scim_error.h"
#include "scim_schema.h"

/* Aborts with a message when cond does not hold. */
#define FUZZ_CHECK(cond, ...) \
    do { \
        if (!(cond)) { \
            fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
        } \
    } while (0)

void fuzz_fail(const char *file, int line, const char *cond,
               const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

/* apr_initialize() and the fixtures, once per process. */
void fuzz_init(void);

/* A pool with its own allocator: destroying it returns every byte to
 * malloc, so AddressSanitizer sees a use after the end of an input and
 * LeakSanitizer sees exactly what an input left behind. */
apr_pool_t *fuzz_pool(void);

/* The input as a NUL-terminated string in p (bytes after a NUL are
 * ignored by the code under test, as they would be in a query string). */
char *fuzz_text(apr_pool_t *p, const uint8_t *data, size_t size);

/* The input parsed as the service parses request bodies, or NULL. */
json_t *fuzz_json(const uint8_t *data, size_t size);

/* An error must carry a 4xx/5xx status and a detail, and render as a
 * SCIM error document. */
void fuzz_check_error(const scim_error_t *err, const char *what);

/* Prints a for a failed check (compact JSON, or "(null)"). */
void fuzz_dump(const char *label, const json_t *value);

/* scim_schema_project with a few realistic attribute lists, and the
 * invariants every projection keeps. */
void fuzz_project_lists(apr_pool_t *p, const scim_resource_type_t *rt,
                        const json_t *resource, int stored);

/* Realistic resources in their stored shape (loaded by fuzz_init):
 *   entra_user  Entra ID user: name, emails, phones, addresses, roles,
 *               enterprise extension with manager, membership, meta
 *   okta_user   Okta user: core schema only
 *   custom_user user with an undeclared extension of assorted shapes
 *   group       group as stored when members live in their own table
 *   group_members  the same group with members in the JSON */
extern json_t *fuzz_entra_user, *fuzz_okta_user, *fuzz_custom_user;
extern json_t *fuzz_group, *fuzz_group_members;

/* A resource type of the fuzzers' own with what the built-in schemas lack
 * (integer, decimal, dateTime and binary attributes, immutable and
 * required ones, multi-valued simple ones), and a stored resource of it:
 * the generic code paths get inputs too. */
extern const scim_resource_type_t fuzz_typed_type;
extern json_t *fuzz_typed;

#endif /* SCIM_FUZZ_COMMON_H */
