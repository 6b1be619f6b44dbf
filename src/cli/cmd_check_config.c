/*
 * cmd_check_config.c - `kintsugi check-config`: validates a configuration
 * file, reporting every problem with its line and key, or prints the
 * Markdown reference of every key (docs/CONFIG.md).
 */
#include "../config/config.h"
#include "cli.h"

#include <string.h>

/* Writes one problem as an element of the "errors" array. */
static void json_issue(void *ctx, int line, const char *key, const char *msg)
{
    struct ks_json *j = ctx;
    ks_json_obj_begin(j);
    ks_json_key(j, "line");
    if (line > 0) {
        ks_json_int(j, line);
    } else {
        ks_json_null(j);
    }
    ks_json_key(j, "key");
    if (key) {
        ks_json_str(j, key);
    } else {
        ks_json_null(j);
    }
    ks_json_key(j, "message");
    ks_json_str(j, msg);
    ks_json_obj_end(j);
}

/* {"file": ..., "valid": bool, "errors": [...]} on stdout. */
static int check_json(const char *path)
{
    struct ks_buf errs = {0}, out = {0};
    struct ks_json ej, j;
    ks_json_init(&ej, &errs, 0);
    ks_json_arr_begin(&ej);
    int n = ks_config_check_each(path, json_issue, &ej);
    ks_json_arr_end(&ej);
    ks_json_init(&j, &out, 0);
    ks_json_obj_begin(&j);
    ks_json_key(&j, "file");
    ks_json_str(&j, path);
    ks_json_key(&j, "valid");
    ks_json_bool(&j, n == 0);
    ks_json_key(&j, "errors");
    ks_json_raw(&j, errs.p, errs.len);
    ks_json_obj_end(&j);
    fprintf(stdout, "%s\n", out.p);
    fflush(stdout);
    ks_buf_fini(&errs);
    ks_buf_fini(&out);
    return n ? KS_EXIT_USAGE : KS_EXIT_OK;
}

int ks_cmd_check_config(int argc, char **argv)
{
    /* Automatic, not static: each call parses from a clean state. */
    struct ks_opt opts[] = {
        {.name = "json", .help = "print the result as one JSON object on stdout"},
        {.name = "reference", .help = "print the Markdown reference of every key"},
    };
    struct ks_cmd_spec spec = {
        .usage = "kintsugi check-config FILE [--json] | kintsugi check-config --reference",
        .summary = "Check a configuration file and report every problem with its line and key.",
        .details =
            "Prints \"FILE: ok\" and exits 0 when the file is valid. Otherwise prints every\n"
            "problem on stderr, one per line in line order, and exits 2:\n"
            "\n"
            "  kintsugi.yaml:4: key \"detectors.zero_spike.skus_pct\": must be a number between "
            "0 and 100, got \"abc\"\n"
            "\n"
            "With --json the result goes to stdout as\n"
            "  {\"file\": \"kintsugi.yaml\", \"valid\": false,\n"
            "   \"errors\": [{\"line\": 4, \"key\": \"detectors.zero_spike.skus_pct\", "
            "\"message\": \"...\"}]}\n"
            "with the same exit codes (line and key are null when they do not apply).\n"
            "\n"
            "--reference prints the reference of every key, its type, default and meaning\n"
            "(the text of docs/CONFIG.md). examples/kintsugi.yaml sets every key.\n\n"
            "A valid file says nothing of whether its receivers answer: 'kintsugi messages\n"
            "test NAME' sends one a test message.\n\n"
            "exit status: 0 the file is valid (or the reference printed), 2 it is not (every\n"
            "problem is printed; a file that cannot be read, or a directory, is one) or a\n"
            "usage error.",
        .opts = opts,
        .nopts = sizeof(opts) / sizeof(opts[0]),
    };
    char **args = ks_calloc(argc > 0 ? (size_t)argc : 1, sizeof(*args));
    int nargs = 0;
    int rc = ks_cli_parse(&spec, argc, argv, args, &nargs);
    if (rc != KS_EXIT_OK) {
        ks_free(args);
        return rc == -1 ? KS_EXIT_OK : rc;
    }
    const char *path = nargs == 1 ? args[0] : NULL;
    ks_free(args);
    if (ks_cli_opt(&spec, "reference")->set) {
        if (nargs) {
            ks_cli_error("check-config --reference takes no FILE");
            return KS_EXIT_USAGE;
        }
        ks_config_reference(stdout);
        fflush(stdout);
        return KS_EXIT_OK;
    }
    if (!path) {
        ks_cli_error("check-config needs exactly one FILE (usage: %s)", spec.usage);
        return KS_EXIT_USAGE;
    }
    if (ks_cli_opt(&spec, "json")->set) {
        return check_json(path);
    }
    if (ks_config_check(path, stderr)) {
        return KS_EXIT_USAGE;
    }
    fprintf(stdout, "%s: ok\n", path);
    fflush(stdout);
    return KS_EXIT_OK;
}
