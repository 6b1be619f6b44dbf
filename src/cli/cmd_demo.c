/*
 * cmd_demo.c - `kintsugi demo`: simulate a day at a shop with several faults,
 * replay it into a fresh database and tell the story: incidents by severity
 * with their detection gap, what each detector saw, how the result compares
 * with the simulator's ground truth, where the data is and what to run next.
 * On a terminal it then serves the database (`kintsugi serve --clock event`)
 * with a viewer token printed, so that the story ends on the dashboard.
 */
#include "../auth/auth.h"
#include "../http/http.h"
#include "../serve/serve.h"
#include "../sim/sim.h"
#include "../shell/shell.h"
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct ks_opt opts[] = {
    {"db", 1, "database to create (default: ./kintsugi-demo.db; must not exist unless --force)", 0,
     NULL},
    {"seed", 1, "simulation seed (default 7)", 0, NULL},
    {"force", 0, "replace a database an earlier demo made (never any other file)", 0, NULL},
    {"json", 0, "print the incidents and the ground-truth comparison as JSON", 0, NULL},
    {"no-serve", 0, "end after the story: do not serve the dashboard", 0, NULL},
    {"listen", 1, "where the dashboard is served (default 127.0.0.1:8080)", 0, NULL},
};
static const struct ks_cmd_spec spec = {
    "kintsugi demo [--db F] [--seed N] [--force] [--json] [--no-serve] [--listen HOST:PORT]",
    "Simulate a day at a shop (4 channels, 2,000 SKUs) with faults injected - a stalled\n"
    "channel sync, a zero-inventory spike, a distribution shift, a warehouse location down,\n"
    "order rejections, supplier problems, a complaint spike, a feed schema change, a metric\n"
    "drop - replay it through every detector and explain what kintsugi found.",
    "The events and the simulator's ground truth are written next to the database\n"
    "(NAME-events.ndjson, NAME-truth.json) so you can replay or inspect them.\n\n"
    "--force replaces only a database the demo made (it leaves a mark in it): any other\n"
    "file of that name, a database of your own above all, is refused (exit 2) and kept.\n\n"
    "When its output is a terminal (and without --json or --no-serve) the demo ends by\n"
    "serving the database - the dashboard and the API, on event time - and prints the URL\n"
    "and a viewer token to sign in with (and an admin token, to act); Ctrl-C stops it.\n"
    "Its --listen address is tried first: a busy port ends the demo before it simulates.\n"
    "Otherwise (a pipe, CI, `make demo` unattended) it prints how to start that server.\n\n"
    "examples:\n"
    "  kintsugi demo\n"
    "  kintsugi demo --db /tmp/shop.db --seed 42\n\n"
    "exit status: 0 every expected incident detected (on a terminal: once the dashboard is\n"
    "stopped), 1 it failed (the database exists and --force is not given, the --listen\n"
    "port is busy, a file could not be written, an expected incident was missed), 2 usage\n"
    "error (a bad option, --force on a file the demo did not make, a PostgreSQL URI).",
    opts, sizeof(opts) / sizeof(opts[0])};

struct found {
    json_t *incidents; /* array of summaries */
};

static int collect(void *ctx, const struct ks_incident_row *row)
{
    struct found *f = ctx;
    json_array_append_new(f->incidents, json_loads(row->summary_json, 0, NULL));
    return 0;
}

static ks_time jtime(json_t *v)
{
    const char *s = json_string_value(v);
    ks_time t = KS_TIME_NONE;
    if (s) {
        ks_time_parse(s, strlen(s), &t, NULL);
    }
    return t;
}

/* Matches each truth incident with an incident of the same type detected
 * within 1 s. Returns the number matched; writes one line per truth entry. */
static size_t compare_truth(json_t *truth, json_t *got, FILE *out, json_t *report)
{
    size_t matched = 0, i;
    json_t *t;
    json_array_foreach(json_object_get(truth, "incidents"), i, t)
    {
        const char *type = json_string_value(json_object_get(t, "type"));
        const char *fault = json_string_value(json_object_get(t, "fault"));
        const char *sev = json_string_value(json_object_get(t, "severity"));
        ks_time want = jtime(json_object_get(t, "detected_at"));
        json_t *hit = NULL;
        size_t k;
        json_t *g;
        json_array_foreach(got, k, g)
        {
            ks_time at = jtime(json_object_get(g, "detected_at"));
            if (type && strcmp(type, json_string_value(json_object_get(g, "type"))) == 0 &&
                at != KS_TIME_NONE && want != KS_TIME_NONE && at - want <= 1000 &&
                want - at <= 1000) {
                hit = g;
                break;
            }
        }
        char ws[32];
        ks_time_fmt(want, ws);
        if (hit) {
            matched++;
            fprintf(out, "  ok      %-17s %-19s expected at %s -> incident %lld (%s)\n",
                    fault ? fault : "?", type, ws,
                    (long long)json_integer_value(json_object_get(hit, "id")),
                    json_string_value(json_object_get(hit, "severity")));
        } else {
            fprintf(out, "  MISSED  %-17s %-19s expected at %s (%s)\n", fault ? fault : "?",
                    type ? type : "?", ws, sev ? sev : "?");
        }
        json_array_append_new(report, json_pack("{s:s?,s:s?,s:s,s:O?}", "fault", fault, "type",
                                                type, "expected_at", ws, "incident",
                                                hit ? json_object_get(hit, "id") : NULL));
    }
    return matched;
}

static void story(json_t *got, FILE *out)
{
    static const char *sevs[] = {"P1", "P2", "P3"};
    for (int s = 0; s < 3; s++) {
        size_t i;
        json_t *g;
        int header = 0;
        json_array_foreach(got, i, g)
        {
            if (strcmp(json_string_value(json_object_get(g, "severity")), sevs[s]) != 0) {
                continue;
            }
            if (!header) {
                fprintf(out, "\n%s%s\n", sevs[s],
                        s == 0 ? " - page the whole core team, acknowledge within 15 minutes"
                        : s == 1 ? " - acknowledge within 1 hour"
                                 : " - acknowledge within 4 hours, resolve within 24");
                header = 1;
            }
            ks_time st = jtime(json_object_get(g, "started_at"));
            ks_time dt = jtime(json_object_get(g, "detected_at"));
            char gap[32], ds[32];
            ks_duration_fmt(dt - st, gap);
            ks_time_fmt(dt, ds);
            fprintf(out, "  #%-3lld %-19s %s\n", (long long)json_integer_value(json_object_get(g, "id")),
                    json_string_value(json_object_get(g, "type")),
                    json_string_value(json_object_get(g, "title")));
            fprintf(out, "        detected %s, %s after it started\n", ds, gap);
            size_t k;
            json_t *sig;
            json_array_foreach(json_object_get(g, "signals"), k, sig)
            {
                if (k == 2) {
                    fprintf(out, "        (+%zu more signals)\n",
                            json_array_size(json_object_get(g, "signals")) - 2);
                    break;
                }
                fprintf(out, "        saw: %s\n", json_string_value(json_object_get(sig, "text")));
            }
        }
    }
}

/* The blob a demo database holds from its start: --force replaces a file
 * only when it holds it, so that a mistyped --db never costs a real
 * database (or any other file) of that name. */
#define DEMO_MARK "demo"

/* 0 when db (stat in sb) is a database a demo made; else says why it is
 * not, and returns KS_EXIT_USAGE. */
static int demo_made(const char *db, const struct stat *sb)
{
    struct ks_buf v = {0};
    struct ks_err err = {0};
    int found = 0;
    enum ks_rc rc =
        S_ISREG(sb->st_mode) ? ks_store_sqlite_peek(db, DEMO_MARK, &v, &found, &err) : KS_EIO;
    ks_buf_fini(&v);
    if (rc == KS_OK && found) {
        return 0;
    }
    ks_cli_error(
        "%s is not a kintsugi demo database (%s): --force replaces only a database the "
        "demo made; remove it yourself if it may go, or choose another --db",
        db, rc != KS_OK ? "not an SQLite database" : "an SQLite database the demo did not make");
    return KS_EXIT_USAGE;
}

static void sibling(const char *db, const char *suffix, char *out, size_t cap)
{
    size_t n = strlen(db);
    if (n > 3 && strcmp(db + n - 3, ".db") == 0) {
        n -= 3;
    }
    snprintf(out, cap, "%.*s%s", (int)n, db, suffix);
}

/* Ends the demo on the dashboard: a viewer and an admin token, then
 * `kintsugi serve` on the demo database until Ctrl-C. Closes a. */
static int serve_demo(struct ks_shell *a, const char *db, const char *cfgpath, const char *listen)
{
    char viewer[KS_TOKEN_BUF], admin[KS_TOKEN_BUF];
    struct ks_err err = {0};
    ks_time t = ks_time_now();
    if (ks_auth_create(a->store, "demo-viewer", KS_ROLE_VIEWER, t, viewer, &err) != KS_OK ||
        ks_auth_create(a->store, "demo-admin", KS_ROLE_ADMIN, t, admin, &err) != KS_OK) {
        ks_cli_error("cannot create the demo's tokens: %s", err.msg);
        ks_shell_close(a);
        return KS_EXIT_FAIL;
    }
    ks_shell_close(a); /* the server takes the database's writer lock */
    printf("\nthe dashboard: http://%s/  (Ctrl-C stops it)\n"
           "  sign in with the viewer token  %s\n"
           "  or, to act (ack, roll back...)  %s\n\n",
           listen, viewer, admin);
    fflush(stdout);
    char *argv[] = {"--db", (char *)db, "--config", (char *)cfgpath, "--clock", "event",
                    "--listen", (char *)listen, NULL};
    return ks_cmd_serve(8, argv);
}

int ks_cmd_demo(int argc, char **argv)
{
    char **args = ks_malloc(((size_t)argc + 1) * sizeof(char *));
    int nargs, rc = ks_cli_parse(&spec, argc, argv, args, &nargs);
    ks_free(args);
    if (rc != 0 || nargs) {
        if (nargs) {
            ks_cli_error("demo takes no arguments; see 'kintsugi demo --help'");
        }
        return rc < 0 ? KS_EXIT_OK : rc ? rc : KS_EXIT_USAGE;
    }
    const char *db = ks_cli_opt(&spec, "db")->value ? ks_cli_opt(&spec, "db")->value
                                                    : "kintsugi-demo.db";
    int json = ks_cli_opt(&spec, "json")->set;
    FILE *out = json ? stderr : stdout;
    const char *listen = ks_cli_opt(&spec, "listen")->value ? ks_cli_opt(&spec, "listen")->value
                                                            : "127.0.0.1:8080";
    char host[256];
    int port;
    if (ks_cli_listen(listen, host, sizeof(host), &port) != 0) {
        ks_cli_error("--listen '%s': expected HOST:PORT (e.g. 127.0.0.1:8080, 0.0.0.0:9000, "
                     "[::1]:8080)",
                     listen);
        return KS_EXIT_USAGE;
    }
    struct stat sb;
    if ((rc = ks_shell_db_check(db)) != 0) {
        return rc;
    }
    if (ks_store_is_shared(db)) {
        ks_cli_error("the demo makes a SQLite file: --db takes a file name, not a PostgreSQL URI");
        return KS_EXIT_USAGE;
    }
    if (stat(db, &sb) == 0) {
        if (!ks_cli_opt(&spec, "force")->set) {
            ks_cli_error("%s exists; the demo needs a fresh database (use --force to replace it, "
                         "or --db another path)",
                         db);
            return KS_EXIT_FAIL;
        }
        if ((rc = demo_made(db, &sb)) != 0) {
            return rc;
        }
    }
    int serve = !json && !ks_cli_opt(&spec, "no-serve")->set && isatty(1);
    if (serve) {
        /* The address is tried before the simulation, not after it. */
        struct ks_err lerr = {0};
        struct ks_http *probe = ks_standby_http_start(host, port, &lerr);
        if (!probe) {
            ks_cli_error("cannot serve the dashboard on %s: %s (choose another --listen, or "
                         "--no-serve)",
                         listen, lerr.msg);
            return KS_EXIT_FAIL;
        }
        ks_http_stop(probe);
    }
    struct ks_sim_opts so;
    ks_sim_defaults(&so);
    so.seed = 7;
    const char *seed = ks_cli_opt(&spec, "seed")->value;
    if (seed) {
        char *end;
        unsigned long long v = strtoull(seed, &end, 10);
        if (*end || !*seed || v > INT64_MAX) {
            ks_cli_error("--seed '%s' is not a whole number", seed);
            return KS_EXIT_USAGE;
        }
        so.seed = v;
    }
    so.faults = KS_SIM_ALL_FAULTS;
    so.fit = 1;
    char evpath[1100], trpath[1100], cfgpath[1100];
    sibling(db, "-events.ndjson", evpath, sizeof(evpath));
    sibling(db, "-truth.json", trpath, sizeof(trpath));
    sibling(db, "-kintsugi.yaml", cfgpath, sizeof(cfgpath));
    /* The default configuration has no metric rules and no people: the demo adds one
     * rule for the simulated conversion drop, and people to approve actions. */
    FILE *cf = fopen(cfgpath, "w");
    if (!cf || fputs("# written by kintsugi demo\n"
                     "metrics:\n"
                     "  - name: conversion-drop\n"
                     "    metric: conversion_rate\n"
                     "    below: 0.02\n"
                     "    severity: P3\n"
                     "roles:\n"
                     "  lead: {approve: [zero_channel, reroute_orders]}\n"
                     "  manager: {approve: [\"*\"]}\n"
                     "people:\n"
                     "  you: {role: manager}\n",
                     cf) < 0 ||
        fclose(cf) != 0) {
        ks_cli_error("cannot write %s: %s", cfgpath, strerror(errno));
        return KS_EXIT_FAIL;
    }
    FILE *ev = fopen(evpath, "w"), *tr = fopen(trpath, "w");
    struct ks_err err = {0};
    if (!ev || !tr) {
        ks_cli_error("cannot write %s: %s", !ev ? evpath : trpath, strerror(errno));
        if (ev) {
            fclose(ev);
        }
        if (tr) {
            fclose(tr);
        }
        return KS_EXIT_FAIL;
    }
    fprintf(out, "kintsugi demo: simulating a day at a shop with %d channels and %d SKUs "
                 "(seed %llu)...\n",
            so.channels, so.skus, (unsigned long long)so.seed);
    enum ks_rc src = ks_sim_run(&so, ev, tr, &err);
    int werr = fclose(ev) | fclose(tr);
    if (src != KS_OK || werr) {
        ks_cli_error("simulation failed: %s", src != KS_OK ? err.msg : strerror(errno));
        return KS_EXIT_FAIL;
    }
    if (ks_cli_opt(&spec, "force")->set) {
        char side[1100];
        unlink(db);
        snprintf(side, sizeof(side), "%s-wal", db);
        unlink(side);
        snprintf(side, sizeof(side), "%s-shm", db);
        unlink(side);
    }
    struct ks_shell a;
    if ((rc = ks_shell_open(&a, cfgpath, db, KS_SHELL_ENGINE | KS_SHELL_CREATE)) != 0) {
        return rc;
    }
    /* The mark that lets a later demo --force replace this database. */
    if (a.store->ops->put_blob(a.store, DEMO_MARK, "kintsugi demo", strlen("kintsugi demo"),
                               &err) != KS_OK) {
        ks_cli_error("%s: %s", db, err.msg);
        ks_shell_close(&a);
        return KS_EXIT_FAIL;
    }
    struct ks_progress pg = {0};
    stat(evpath, &sb);
    pg.total_bytes = (uint64_t)sb.st_size;
    ks_cli_progress(&pg, isatty(2));
    int fd = open(evpath, O_RDONLY);
    ks_time t0 = ks_time_now();
    /* The simulated feed-schema fault sends rejected lines on purpose: they are
     * summarised below rather than printed one by one. */
    int saved = dup(2), devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) {
        dup2(devnull, 2);
    }
    struct ks_input in = {0};
    rc = fd < 0 ? KS_EXIT_FAIL : ks_shell_input_open(&a, &in, fd, evpath, 1);
    if (rc == 0) {
        rc = ks_shell_ingest_fd(&a, fd, &in, &in, 1, &pg);
    }
    if (saved >= 0) {
        dup2(saved, 2);
        close(saved);
    }
    if (devnull >= 0) {
        close(devnull);
    }
    if (fd >= 0) {
        close(fd);
    }
    if (rc == 0) {
        ks_engine_end_input(a.eng);
        rc = ks_shell_checkpoint(&a, &in, 1);
    }
    ks_shell_input_fini(&in);
    ks_time took = ks_time_now() - t0;
    if (rc != 0) {
        ks_shell_close(&a);
        return rc;
    }
    struct ks_engine_stats st;
    ks_engine_stats(a.eng, &st);
    char n1[32], n2[32], d[32];
    ks_duration_fmt(took, d);
    fprintf(out, "replayed %s events (%.1f MB) through every detector in %s into %s\n",
            ks_fmt_count(st.events, n1), (double)sb.st_size / 1e6, d, db);
    fprintf(out, "%s lines rejected by validation (kept as dead letters), %s incidents opened\n",
            ks_fmt_count(st.rejected, n2), ks_fmt_count((uint64_t)st.incidents, n1));

    struct found f = {json_array()};
    a.store->ops->list_incidents(a.store, NULL, collect, &f, &err);
    story(f.incidents, out);

    json_error_t jerr;
    json_t *truth = json_load_file(trpath, 0, &jerr);
    json_t *report = json_array();
    size_t want = json_array_size(json_object_get(truth, "incidents"));
    fprintf(out, "\nground truth (what each injected fault must cause, from %s):\n", trpath);
    size_t matched = truth ? compare_truth(truth, f.incidents, out, report) : 0;
    fprintf(out, "  %zu of %zu expected incidents detected at the expected instant (+-1 s)\n",
            matched, want);

    fprintf(out, "\nwhere the data is:\n  database   %s (SQLite)\n  events     %s\n  truth      "
                 "%s\n  config     %s\n",
            db, evpath, trpath, cfgpath);
    long long cid = 0;
    size_t ci;
    json_t *cg;
    struct ks_buf rollbacks = {0}; /* every corruption holds its channels until rolled back */
    json_array_foreach(f.incidents, ci, cg)
    {
        if (strcmp(json_string_value(json_object_get(cg, "type")), "data_corruption") == 0) {
            long long id = (long long)json_integer_value(json_object_get(cg, "id"));
            cid = cid ? cid : id;
            ks_buf_printf(&rollbacks,
                          "  kintsugi guard rollback %lld --by you --db %s --config %s\n", id, db,
                          cfgpath);
        }
    }
    fprintf(out, "\nwhat to run next:\n  kintsugi incidents --db %s\n", db);
    if (cid) {
        fprintf(out,
                "  kintsugi incident show %lld --db %s          (a contained corruption)\n"
                "  kintsugi guard status --db %s             (every channel paused, updates held)\n"
                "%s"
                "  kintsugi guard release --all --by you --db %s --config %s\n",
                cid, db, db, rollbacks.p, db, cfgpath);
    }
    ks_buf_fini(&rollbacks);
    fprintf(out, "  kintsugi action list --db %s\n", db);
    /* "you" approves as a person of the demo's configuration (people:), so
     * every command that acts names it, as the dashboard's server does */
    struct ks_buf acts = {0};
    ks_engine_actions_json(a.eng, &acts);
    json_t *aj = json_loads(acts.p ? acts.p : "[]", 0, NULL);
    size_t ai;
    json_t *ax;
    json_array_foreach(aj, ai, ax)
    {
        const char *ast = json_string_value(json_object_get(ax, "status"));
        if (ast && strcmp(ast, "proposed") == 0) {
            fprintf(out, "  kintsugi action approve %lld %s --by you --db %s --config %s\n",
                    (long long)json_integer_value(json_object_get(ax, "incident")),
                    json_string_value(json_object_get(ax, "action")), db, cfgpath);
            break;
        }
    }
    json_decref(aj);
    ks_buf_fini(&acts);
    fprintf(out, "  kintsugi deadletters --db %s\n", db);
    if (json) {
        json_t *doc = json_pack("{s:s,s:s,s:s,s:O,s:o,s:I,s:I}", "db", db, "events", evpath,
                                "truth", trpath, "incidents", f.incidents, "ground_truth", report,
                                "matched", (json_int_t)matched, "expected", (json_int_t)want);
        char *txt = json_dumps(doc, JSON_COMPACT);
        printf("%s\n", txt);
        free(txt);
        json_decref(doc);
    } else {
        json_decref(report);
    }
    json_decref(truth);
    json_decref(f.incidents);
    rc = matched == want ? KS_EXIT_OK : KS_EXIT_FAIL;
    if (!serve || rc != KS_EXIT_OK) {
        if (!json) {
            fprintf(out,
                    "\nthe dashboard (on a terminal the demo starts it itself):\n"
                    "  kintsugi token create --name me --role admin --db %s\n"
                    "  kintsugi serve --db %s --config %s --clock event --listen %s\n"
                    "  then open http://%s/ and sign in with the token\n",
                    db, db, cfgpath, listen, listen);
        }
        ks_shell_close(&a);
        return rc;
    }
    return serve_demo(&a, db, cfgpath, listen);
}
