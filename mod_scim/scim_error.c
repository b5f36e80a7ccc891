/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "scim_error.h"

scim_error_t *scim_error_make(apr_pool_t *p, int status,
                              const char *scim_type,
                              const char *detail_fmt, ...)
{
    scim_error_t *err = apr_pcalloc(p, sizeof(*err));
    va_list ap;

    va_start(ap, detail_fmt);
    err->detail = apr_pvsprintf(p, detail_fmt, ap);
    va_end(ap);
    err->status = status;
    err->scim_type = scim_type;
    return err;
}

/* A detail may quote client input that is not UTF-8; JSON strings must
 * be, so such a detail keeps its ASCII and marks the rest with '?'. */
static json_t *detail_string(const char *detail)
{
    json_t *text = json_string(detail);
    char *ascii, *c;

    if (text) {
        return text;
    }
    ascii = strdup(detail);
    if (!ascii) {
        return json_string("Invalid request");
    }
    for (c = ascii; *c; c++) {
        if ((unsigned char)*c >= 0x80) {
            *c = '?';
        }
    }
    text = json_string(ascii);
    free(ascii);
    return text;
}

json_t *scim_error_to_json(const scim_error_t *err)
{
    char status[16];
    json_t *doc;

    /* RFC 7644 3.12: "status" is a string, not a number. */
    snprintf(status, sizeof(status), "%d", err->status);
    doc = json_pack("{s:[s],s:s,s:o}", "schemas", SCIM_SCHEMA_ERROR,
                    "status", status, "detail", detail_string(err->detail));
    if (doc && err->scim_type) {
        json_object_set_new(doc, "scimType", json_string(err->scim_type));
    }
    return doc;
}
