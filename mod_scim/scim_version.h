/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* The one place the release number is written.  The token tool prints it
 * (--version), and "./build.sh deb" reads it from here for the package's
 * version, so keep the #define on one line in this form.
 * CHANGELOG says what each version brought. */

#ifndef SCIM_VERSION_H
#define SCIM_VERSION_H

#define SCIM_VERSION "0.5.0"

#endif /* SCIM_VERSION_H */
