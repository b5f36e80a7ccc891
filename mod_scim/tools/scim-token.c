/* Copyright 2026 The mod_scim authors
 * SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0; see LICENSE.
 */

/* scim-token: the administrator's token tool, as htpasswd is for passwords.
 *
 *   scim-token        new random 256-bit bearer token, and its
 *                     "ScimToken sha256:..." configuration line
 *   scim-token -s     reads an existing token from standard input and
 *                     prints only its configuration line
 */

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#define TOKEN_BYTES 32          /* 256 bits */
#define MAX_TOKEN_LEN 4096

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

static int from_stdin(void)
{
    char token[MAX_TOKEN_LEN + 2];
    size_t len;

    if (!fgets(token, sizeof(token), stdin)) {
        fprintf(stderr, "scim-token: no token on standard input\n");
        return 1;
    }
    len = strcspn(token, "\r\n");
    token[len] = '\0';
    if (len == 0 || len > MAX_TOKEN_LEN) {
        fprintf(stderr, "scim-token: the token must be 1 to %d characters\n",
                MAX_TOKEN_LEN);
        return 1;
    }
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
    if (argc != 1) {
        fprintf(stderr, "usage: scim-token [-s]\n"
                "  without options: generate a bearer token and print it "
                "with its ScimToken line\n"
                "  -s: read a token from standard input, print its "
                "ScimToken line\n");
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
