/* The store's own ceiling for writes: how many durable single-row
 * transactions per second the database commits through apr_dbd, with the
 * settings mod_scim uses.  Every SCIM write is at least one such commit.
 *
 *   commit_rate [-d sqlite3|pgsql] <database> [seconds [writers]]
 *
 * sqlite3 (the default): <database> is a file, opened in WAL mode with
 * synchronous=FULL.  pgsql: <database> is apr_dbd's parameters
 * ("host=... port=... dbname=... user=..."); the server's own fsync and
 * synchronous_commit apply, and are printed so that the caller can check
 * that the commits were durable.
 *
 * With several writers (processes, each with its own connection, as
 * httpd's children have) the commits contend for SQLite's write lock (a
 * BEGIN that finds it busy is retried) or share PostgreSQL's WAL flushes
 * (group commit).  Prints one line:
 *   commits_per_s=<r> commits=<n> seconds=<s> writers=<w> busy_retries=<b>
 *   [fsync=<on|off> synchronous_commit=<value>]   (pgsql only) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <apr_dbd.h>

/* SQLITE_BUSY, which apr_dbd's sqlite3 driver passes through once its own
 * short retries are spent. */
#define SQLITE_BUSY_CODE 5

static const apr_dbd_driver_t *driver;
static int is_pgsql;

static void die(apr_dbd_t *handle, const char *what, int rv)
{
    fprintf(stderr, "commit_rate: %s failed (%d): %s\n", what, rv,
            handle ? apr_dbd_error(driver, handle, rv) : "no connection");
    exit(1);
}

/* The first column of the first row of a query, read to the end. */
static const char *first_value(apr_pool_t *p, apr_dbd_t *handle,
                               const char *sql)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *value = NULL;
    int rv;

    if ((rv = apr_dbd_select(driver, p, handle, &res, sql, 1)) != 0) {
        die(handle, sql, rv);
    }
    while (apr_dbd_get_row(driver, p, res, &row, -1) == 0) {
        if (!value) {
            value = apr_pstrdup(p, apr_dbd_get_entry(driver, row, 0));
        }
    }
    return value;
}

/* PRAGMA journal_mode answers the mode in effect: it must be WAL.  The
 * mode is kept in the database file, so the writers need not set it. */
static void set_wal(apr_pool_t *p, apr_dbd_t *handle)
{
    const char *mode = first_value(p, handle, "PRAGMA journal_mode=WAL");

    if (!mode || strcasecmp(mode, "wal") != 0) {
        fprintf(stderr, "commit_rate: journal mode stays %s, not WAL\n",
                mode ? mode : "unknown");
        exit(1);
    }
}

/* A connection with mod_scim's per-connection setting (SQLite's). */
static apr_dbd_t *open_store(apr_pool_t *p, const char *path)
{
    apr_dbd_t *handle = NULL;
    int rv, nrows;

    if ((rv = apr_dbd_open(driver, p, path, &handle)) != APR_SUCCESS) {
        die(NULL, apr_psprintf(p, "opening %s", path), rv);
    }
    if (is_pgsql) {
        return handle;          /* the server's settings apply */
    }
    if ((rv = apr_dbd_query(driver, handle, &nrows,
                            "PRAGMA synchronous=FULL")) != 0) {
        die(handle, "PRAGMA synchronous", rv);
    }
    return handle;
}

/* One writer: single-row INSERT transactions until the deadline. */
static long commit_until(apr_pool_t *pool, const char *path,
                         apr_time_t deadline, long *busy_retries)
{
    apr_dbd_t *handle = open_store(pool, path);
    apr_dbd_prepared_t *insert = NULL;
    apr_pool_t *iteration;
    long commits = 0;
    int rv, nrows;

    /* named, as mod_scim's statements are (pgsql keeps the plan) */
    if ((rv = apr_dbd_prepare(driver, pool, handle,
                              "INSERT INTO commits (payload) VALUES (%s)",
                              "commit_rate_insert", &insert)) != 0) {
        die(handle, "prepare INSERT", rv);
    }
    apr_pool_create(&iteration, pool);
    while (apr_time_now() < deadline) {
        apr_dbd_transaction_t *trans = NULL;

        apr_pool_clear(iteration);
        rv = apr_dbd_transaction_start(driver, iteration, handle, &trans);
        if (rv == SQLITE_BUSY_CODE && !is_pgsql) {
            (*busy_retries)++;
            continue;
        }
        if (rv != 0) {
            die(handle, "BEGIN", rv);
        }
        rv = apr_dbd_pvquery(driver, iteration, handle, &nrows, insert,
                             apr_ltoa(iteration, commits), NULL);
        if (rv != 0) {
            die(handle, "INSERT", rv);
        }
        if ((rv = apr_dbd_transaction_end(driver, iteration, trans)) != 0) {
            die(handle, "COMMIT", rv);
        }
        commits++;
    }
    apr_dbd_close(driver, handle);
    return commits;
}

int main(int argc, char **argv)
{
    apr_pool_t *pool;
    apr_dbd_t *setup;
    apr_time_t start, deadline;
    double seconds = 5, elapsed;
    long commits = 0, retries = 0, n, r;
    int writers = 1, i, rv, nrows, status, out[2];
    const char *name = "sqlite3", *durability = "";
    FILE *results;

    if (argc >= 3 && strcmp(argv[1], "-d") == 0) {
        name = argv[2];
        argv += 2;
        argc -= 2;
    }
    is_pgsql = strcmp(name, "pgsql") == 0;
    if (argc < 2 || argc > 4
        || (!is_pgsql && strcmp(name, "sqlite3") != 0)
        || (argc >= 3 && (seconds = atof(argv[2])) <= 0)
        || (argc == 4 && (writers = atoi(argv[3])) < 1)) {
        fprintf(stderr, "usage: %s [-d sqlite3|pgsql] <database file or"
                " pgsql parameters> [seconds [writers]]\n", argv[0]);
        return 2;
    }
    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&pool, NULL);
    if ((rv = apr_dbd_init(pool)) != APR_SUCCESS) {
        die(NULL, "apr_dbd_init", rv);
    }
    if ((rv = apr_dbd_get_driver(pool, name, &driver)) != APR_SUCCESS) {
        die(NULL, apr_psprintf(pool, "apr_dbd_get_driver %s (is"
            " libaprutil1-dbd-%s installed?)", name, name), rv);
    }
    setup = open_store(pool, argv[1]);
    if (is_pgsql) {
        /* a table of this run's commits only */
        if ((rv = apr_dbd_query(driver, setup, &nrows,
                                "DROP TABLE IF EXISTS commits")) != 0) {
            die(setup, "DROP TABLE", rv);
        }
        rv = apr_dbd_query(driver, setup, &nrows, "CREATE TABLE commits"
                           " (n BIGSERIAL PRIMARY KEY, payload TEXT NOT NULL)");
        durability = apr_psprintf(pool, " fsync=%s synchronous_commit=%s",
            first_value(pool, setup, "SHOW fsync"),
            first_value(pool, setup, "SHOW synchronous_commit"));
    }
    else {
        set_wal(pool, setup);
        rv = apr_dbd_query(driver, setup, &nrows,
                           "CREATE TABLE IF NOT EXISTS commits"
                           " (n INTEGER PRIMARY KEY, payload TEXT NOT NULL)");
    }
    if (rv != 0) {
        die(setup, "CREATE TABLE", rv);
    }

    /* Each writer is a process that reports "<commits> <retries>" on a
     * pipe; its connection is opened after the fork. */
    if (pipe(out) != 0) {
        perror("commit_rate: pipe");
        return 1;
    }
    start = apr_time_now();
    deadline = start + (apr_time_t)(seconds * APR_USEC_PER_SEC);
    for (i = 0; i < writers; i++) {
        pid_t pid = fork();

        if (pid < 0) {
            perror("commit_rate: fork");
            return 1;
        }
        if (pid == 0) {
            close(out[0]);
            n = commit_until(pool, argv[1], deadline, &retries);
            dprintf(out[1], "%ld %ld\n", n, retries);
            _exit(0);
        }
    }
    close(out[1]);
    results = fdopen(out[0], "r");
    while (fscanf(results, "%ld %ld", &n, &r) == 2) {
        commits += n;
        retries += r;
    }
    fclose(results);
    for (i = 0; i < writers; i++) {
        if (wait(&status) < 0 || !WIFEXITED(status)
            || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "commit_rate: a writer failed\n");
            return 1;
        }
    }
    elapsed = (double)(apr_time_now() - start) / APR_USEC_PER_SEC;
    printf("commits_per_s=%.1f commits=%ld seconds=%.2f writers=%d"
           " busy_retries=%ld%s\n", commits / elapsed, commits, elapsed,
           writers, retries, durability);
    apr_dbd_close(driver, setup);
    apr_pool_destroy(pool);
    return 0;
}
