/*
 * cmd_simulate.c - `kintsugi simulate`: write a simulated shop's event stream
 * (NDJSON) with chosen faults, and optionally the ground truth of the
 * incidents they must cause (src/sim/sim.h, docs/SIMULATOR.md).
 */
#include "../sim/sim.h"
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static struct ks_opt opts[] = {
    {"seed", 1, "PRNG seed (default 1): the same seed gives the same bytes", 0, NULL},
    {"start", 1, "first minute, RFC 3339 or epoch ms (default 2026-11-22T00:00:00Z)", 0, NULL},
    {"duration", 1,
     "how long to simulate, from 1h to 31d in whole minutes: 90m, 24h, 3d (default 24h)", 0, NULL},
    {"channels", 1, "sales channels, 1-16 (default 4: amazon ebay shopify walmart)", 0, NULL},
    {"skus", 1, "SKUs in the catalogue, 200-100000 (default 2000)", 0, NULL},
    {"cycle", 1, "inventory cycle per channel, 1m-15m (default 15m)", 0, NULL},
    {"fault", 1, "inject a fault; repeatable, or a comma list; 'all' for every one", 0, NULL},
    {"out", 1, "write the events to FILE ('-' = stdout, the default)", 0, NULL},
    {"truth", 1, "write the ground truth (expected incidents, JSON) to FILE", 0, NULL},
    {"list-faults", 0, "list the faults and what each must cause, then exit", 0, NULL},
    {"json", 0, "--list-faults: as JSON, [{\"fault\",\"type\",\"summary\"}]", 0, NULL},
};

static struct ks_cmd_spec spec = {
    "kintsugi simulate [--seed N] [--start TS] [--duration D] [--channels N] [--skus N]\n"
    "                         [--cycle D] [--fault NAME]... [--out FILE|-] [--truth FILE]\n"
    "                         [--list-faults [--json]]",
    "Write the event stream of a simulated multi-channel shop, with injected faults.",
    "The shop: channels that receive an inventory cycle (one `inventory` event per\n"
    "listed SKU, then a `sync`) every --cycle, orders that drain a shared stock and\n"
    "ship later, wms and oms health checks every minute, stock snapshots, supplier\n"
    "receipts, a few complaints, conversion_rate and sessions every 5 minutes.\n"
    "Without faults the stream is quiet: under the default configuration it opens\n"
    "no incident. Each fault is placed on its own stretch of the timeline, so the\n"
    "incidents it causes are unambiguous; --truth writes them with the exact\n"
    "instant SPEC section 3 detects them (docs/SIMULATOR.md).\n"
    "\n"
    "Output is deterministic: no wall clock, one PRNG seeded by --seed.\n"
    "\n"
    "examples:\n"
    "  kintsugi simulate > quiet.ndjson                     a quiet day, 4 channels\n"
    "  kintsugi simulate --fault zero-spike --truth t.json --out day.ndjson\n"
    "  kintsugi simulate --fault stall-one,wms-one --seed 7 | kintsugi ingest -\n"
    "  kintsugi simulate --fault all --duration 48h --out two-days.ndjson --truth truth.json\n"
    "  kintsugi simulate --channels 8 --skus 20000 --cycle 5m --duration 3d > big.ndjson\n"
    "  kintsugi simulate --list-faults\n"
    "\n"
    "'all' leaves out volume-drop when the run is too short for it (it needs 24 h of\n"
    "history: --duration 29h or more).\n"
    "\n"
    "exit status: 0 written, 1 a file could not be written, 2 usage (an unknown fault,\n"
    "or a --fault that names none, prints the list).",
    opts,
    sizeof(opts) / sizeof(opts[0]),
};

static void list_faults(FILE *out)
{
    fprintf(out, "faults (each causes the incident type shown; see docs/SIMULATOR.md):\n");
    for (int f = 0; f < KS_SIM_NFAULTS; f++) {
        fprintf(out, "  %-17s %-19s %s\n", ks_sim_fault_table[f].name, ks_sim_fault_table[f].type,
                ks_sim_fault_table[f].summary);
    }
    fprintf(out, "  %-17s %-19s %s\n", "all", "", "every fault above");
}

static void list_faults_json(FILE *out)
{
    struct ks_buf b = {0};
    struct ks_json j;
    ks_json_init(&j, &b, 0);
    ks_json_arr_begin(&j);
    for (int f = 0; f < KS_SIM_NFAULTS; f++) {
        ks_json_obj_begin(&j);
        ks_json_key(&j, "fault");
        ks_json_str(&j, ks_sim_fault_table[f].name);
        ks_json_key(&j, "type");
        ks_json_str(&j, ks_sim_fault_table[f].type);
        ks_json_key(&j, "summary");
        ks_json_str(&j, ks_sim_fault_table[f].summary);
        ks_json_obj_end(&j);
    }
    ks_json_arr_end(&j);
    fprintf(out, "%s\n", b.p);
    ks_buf_fini(&b);
}

static int parse_int(const char *name, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        ks_cli_error("--%s must be an integer from %ld to %ld, got '%s'", name, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* ks_cli_parse keeps only the last value of an option: every --fault is
 * collected here, walking argv the way the parser does. */
static int collect_faults(int argc, char **argv, unsigned *bits, int *all)
{
    for (int i = 0; i < argc; i++) {
        const char *w = argv[i];
        if (strcmp(w, "--") == 0) {
            break;
        }
        if (strncmp(w, "--", 2) != 0) {
            continue;
        }
        const char *name = w + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const struct ks_opt *o = NULL;
        for (size_t k = 0; k < spec.nopts; k++) {
            if (strlen(spec.opts[k].name) == nlen && memcmp(spec.opts[k].name, name, nlen) == 0) {
                o = &spec.opts[k];
            }
        }
        if (!o || !o->has_arg) {
            continue;
        }
        const char *val = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
        if (!val || strcmp(o->name, "fault") != 0) {
            continue;
        }
        struct ks_err err;
        if (ks_sim_parse_faults(val, bits, all, &err) != KS_OK) {
            ks_cli_error("--fault: %s", err.msg);
            list_faults(stderr);
            return -1;
        }
    }
    return 0;
}

int ks_cmd_simulate(int argc, char **argv)
{
    for (size_t k = 0; k < spec.nopts; k++) {
        spec.opts[k].set = 0;
        spec.opts[k].value = NULL;
    }
    char **args = ks_malloc(((size_t)argc + 1) * sizeof(char *));
    int nargs;
    int rc = ks_cli_parse(&spec, argc, argv, args, &nargs);
    ks_free(args);
    if (rc < 0) {
        return KS_EXIT_OK;
    }
    if (rc) {
        return rc;
    }
    if (nargs) {
        ks_cli_error("simulate takes no arguments, only options (see --help)");
        return KS_EXIT_USAGE;
    }
    if (ks_cli_opt(&spec, "json")->set && !ks_cli_opt(&spec, "list-faults")->set) {
        ks_cli_error("--json goes with --list-faults (the stream itself is NDJSON already)");
        return KS_EXIT_USAGE;
    }
    if (ks_cli_opt(&spec, "list-faults")->set) {
        if (ks_cli_opt(&spec, "json")->set) {
            list_faults_json(stdout);
        } else {
            list_faults(stdout);
        }
        return KS_EXIT_OK;
    }

    struct ks_sim_opts o;
    ks_sim_defaults(&o);
    const char *v;
    long n;
    if ((v = ks_cli_opt(&spec, "seed")->value)) {
        char *end;
        errno = 0;
        unsigned long long s = strtoull(v, &end, 10);
        if (errno || end == v || *end || v[0] == '-' || s > (unsigned long long)INT64_MAX) {
            ks_cli_error("--seed must be an integer from 0 to %lld, got '%s'",
                         (long long)INT64_MAX, v);
            return KS_EXIT_USAGE;
        }
        o.seed = s;
    }
    if ((v = ks_cli_opt(&spec, "start")->value)) {
        /* an RFC 3339 timestamp or epoch milliseconds, as an event's ts */
        if (ks_cli_time("start", v, &o.start) != 0) {
            return KS_EXIT_USAGE;
        }
        if (o.start % KS_MIN) {
            ks_cli_error("--start must be a whole minute, got '%s'", v);
            return KS_EXIT_USAGE;
        }
    }
    if ((v = ks_cli_opt(&spec, "duration")->value)) {
        if (ks_duration_parse(v, &o.duration) != 0) {
            ks_cli_error("--duration: not a duration, got '%s' (e.g. 24h, 90m, 3d)", v);
            return KS_EXIT_USAGE;
        }
    }
    if ((v = ks_cli_opt(&spec, "cycle")->value)) {
        if (ks_duration_parse(v, &o.cycle) != 0) {
            ks_cli_error("--cycle: not a duration, got '%s' (e.g. 15m)", v);
            return KS_EXIT_USAGE;
        }
    }
    if ((v = ks_cli_opt(&spec, "channels")->value)) {
        if (parse_int("channels", v, 1, KS_SIM_MAX_CHANNELS, &n)) {
            return KS_EXIT_USAGE;
        }
        o.channels = (int)n;
    }
    if ((v = ks_cli_opt(&spec, "skus")->value)) {
        if (parse_int("skus", v, KS_SIM_MIN_SKUS, KS_SIM_MAX_SKUS, &n)) {
            return KS_EXIT_USAGE;
        }
        o.skus = (int)n;
    }
    if (collect_faults(argc, argv, &o.faults, &o.fit)) {
        return KS_EXIT_USAGE;
    }

    const char *out_path = ks_cli_opt(&spec, "out")->value;
    const char *truth_path = ks_cli_opt(&spec, "truth")->value;
    int to_stdout = !out_path || strcmp(out_path, "-") == 0;
    if (truth_path && strcmp(truth_path, "-") == 0) {
        if (to_stdout) {
            ks_cli_error("--truth - needs --out FILE: both cannot go to stdout");
            return KS_EXIT_USAGE;
        }
    }
    /* Every usage error is found before any file is opened. */
    struct ks_err err = {0};
    if (ks_sim_check(&o, &err) != KS_OK) {
        ks_cli_error("%s", err.msg);
        return KS_EXIT_USAGE;
    }
    FILE *ev = stdout, *tr = NULL;
    if (!to_stdout && !(ev = fopen(out_path, "w"))) {
        ks_cli_error("cannot write %s: %s", out_path, strerror(errno));
        return KS_EXIT_FAIL;
    }
    if (truth_path) {
        tr = strcmp(truth_path, "-") == 0 ? stdout : fopen(truth_path, "w");
        if (!tr) {
            ks_cli_error("cannot write %s: %s", truth_path, strerror(errno));
            if (ev != stdout) {
                fclose(ev);
            }
            return KS_EXIT_FAIL;
        }
    }
    enum ks_rc src = ks_sim_run(&o, ev, tr, &err);
    int bad_close = 0;
    if (ev != stdout && fclose(ev) != 0) {
        bad_close = 1;
    }
    if (tr && tr != stdout && fclose(tr) != 0) {
        bad_close = 1;
    }
    if (src == KS_OK && bad_close) {
        ks_err_set(&err, KS_EIO, "cannot finish writing the output files");
        src = KS_EIO;
    }
    if (src != KS_OK) {
        ks_cli_error("simulate: %s", err.msg);
        return src == KS_EUSAGE ? KS_EXIT_USAGE : KS_EXIT_FAIL;
    }
    return KS_EXIT_OK;
}
