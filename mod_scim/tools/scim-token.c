/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* scim-token: the administrator's token tool, as htpasswd is for passwords.
 *
 *   scim-token            new random 256-bit bearer token, and its
 *                         "ScimToken sha256:..." configuration line
 *   scim-token -s         reads an existing token from standard input and
 *                         prints only its configuration line
 *   scim-token --help     usage; --version: mod_scim's version
 */

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "../scim_version.h"

#define TOKEN_BYTES 32          /* 256 bits */
#define MAX_TOKEN_LEN 4096
/* Shorter chosen tokens are warned about: a generated one has 43. */
#define SHORT_TOKEN_LEN 20

static const char usage[] =
    "usage: scim-token [-s | --help | --version]\n"
    "  without options  generate a bearer token and print it with its\n"
    "                   ScimToken line for the organization's <Location>\n"
    "  -s               read a token from the first line of standard input\n"
    "                   and print only its ScimToken line\n"
    "  --help           show this help\n"
    "  --version        show the version of mod_scim\n";

static void print_config_line(const char *token)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0, i;

    EVP_Digest(token, strlen(token), digest, &len, EVP_sha256(), NULL);
    printf("ScimToken sha256:");
    for (i = 0; i < len; i++) {
        printf("%02x", digest[i]);
    }
    printf("\n");
}

/* Words an administrator might paste as a "token"; the check is a hint,
 * not a dictionary. */
static int looks_guessable(const char *token, size_t len)
{
    static const char *const common[] = {
        "password", "passw0rd", "123456", "12345678", "1234567890",
        "changeme", "secret", "token", "admin", "letmein", "qwerty",
        "test", "example", "scim", NULL
    };
    const char *const *word;
    size_t i;

    for (word = common; *word; word++) {
        if (strcasecmp(token, *word) == 0) {
            return 1;
        }
    }
    for (i = 1; i < len && token[i] == token[0]; i++) {
    }
    return i == len;    /* one character repeated */
}

/* Warnings about a chosen token, on standard error: the line is printed
 * all the same, since the identity provider may already hold the token. */
static void warn_about_token(const char *token, size_t len)
{
    if (strchr(" \t", token[0]) || strchr(" \t", token[len - 1])) {
        fprintf(stderr, "scim-token: warning: the token begins or ends with "
                "a space or a tab, which is kept as part of the token; "
                "was it copied with extra blanks?\n");
    }
    if (len < SHORT_TOKEN_LEN || looks_guessable(token, len)) {
        fprintf(stderr, "scim-token: warning: this token is short or easy "
                "to guess; run scim-token without -s for a random one\n");
    }
}

/* Only the line ending is removed: every other character is part of the
 * token, as the identity provider will send it. */
static int from_stdin(void)
{
    char token[MAX_TOKEN_LEN + 3];
    size_t len;

    if (!fgets(token, sizeof(token), stdin)) {
        fprintf(stderr, "scim-token: no token on standard input\n");
        return 1;
    }
    len = strlen(token);
    if (len > 0 && token[len - 1] == '\n') {
        token[--len] = '\0';
    }
    if (len > 0 && token[len - 1] == '\r') {
        token[--len] = '\0';
    }
    if (len == 0 || len > MAX_TOKEN_LEN) {
        fprintf(stderr, "scim-token: the token must be 1 to %d characters\n",
                MAX_TOKEN_LEN);
        return 1;
    }
    warn_about_token(token, len);
    print_config_line(token);
    return 0;
}

int main(int argc, char **argv)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[TOKEN_BYTES];
    char token[2 * TOKEN_BYTES];
    int bits = 0, nbits = 0, n = 0, i;

    if (argc == 2 && strcmp(argv[1], "-s") == 0) {
        return from_stdin();
    }
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("scim-token (mod_scim) %s\n", SCIM_VERSION);
        return 0;
    }
    if (argc != 1) {
        fputs(usage, stderr);
        return 2;
    }
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        fprintf(stderr, "scim-token: no randomness available\n");
        return 1;
    }
    /* base64url without padding: 43 characters for 256 bits */
    for (i = 0; i < TOKEN_BYTES; i++) {
        bits = ((bits & ((1 << nbits) - 1)) << 8) | raw[i];
        nbits += 8;
        while (nbits >= 6) {
            token[n++] = alphabet[(bits >> (nbits - 6)) & 0x3f];
            nbits -= 6;
        }
    }
    if (nbits > 0) {
        token[n++] = alphabet[(bits << (6 - nbits)) & 0x3f];
    }
    token[n] = '\0';
    printf("# Bearer token for the identity provider (shown once, not "
           "stored anywhere):\n");
    printf("Bearer token: %s\n", token);
    printf("# Line for the <Location> of the organization:\n");
    print_config_line(token);
    return 0;
}
