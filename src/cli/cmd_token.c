/*
 * cmd_token.c - `kintsugi token create|list|revoke`: the API tokens that
 * `kintsugi serve` takes as "Authorization: Bearer ...", each with a name
 * and a role (src/auth/auth.h, docs/API.md).
 *
 * Only the store is opened (no configuration, no engine): tokens are set up
 * before a server runs, and creating one may create the database.
 */
#include "../auth/auth.h"
#include "../shell/shell.h"
#include "../store/store.h"
#include "cli.h"

#include <string.h>
#include <unistd.h>

static struct ks_opt opts[] = {
    {"name", 1, "create: the token's name (letters, digits, . _ - @; at most 64)", 0, NULL},
    {"role", 1, "create: viewer, responder or admin", 0, NULL},
    {"json", 0, "list: JSON on stdout", 0, NULL},
    {"db", 1, "SQLite file or postgresql:// URI (default: ./kintsugi.db)", 0, NULL},
};
static const struct ks_cmd_spec spec = {
    "kintsugi token create --name NAME --role viewer|responder|admin | list [--json] |\n"
    "       revoke NAME   [--db F]",
    "API tokens for kintsugi's HTTP API: who may read, who may act, who may administer.",
    "  create   makes a token and prints it on stdout, alone, once: it is stored only as\n"
    "           its SHA-256 and cannot be shown again (lost: revoke it, create another)\n"
    "  list     every token's name, role, creation and revocation time (never the token)\n"
    "  revoke   the token stops working at once; it stays listed as revoked\n\n"
    "Roles, each allowing what the ones before it do:\n"
    "  viewer     read incidents, timelines, reports, metrics\n"
    "  responder  post events, acknowledge, note, change status, approve actions\n"
    "  admin      everything, including configuration-like changes\n\n"
    "Names are unique for ever, revoked tokens included: a name is the actor on the\n"
    "timeline entries its token writes, so it always means one token. To rotate a\n"
    "token, create one under a new name, switch the client, revoke the old one.\n\n"
    "Clients send the token as: Authorization: Bearer ks_...\n\n"
    "examples:\n"
    "  kintsugi token create --name ci --role responder > ci.token\n"
    "  curl -H \"Authorization: Bearer $(cat ci.token)\" http://127.0.0.1:8080/v1/incidents\n"
    "  kintsugi token list\n"
    "  kintsugi token revoke ci\n\n"
    "exit status: 0 ok; 1 the database refused (a name already taken, no such token,\n"
    "no such database); 2 usage (a bad name or role, a missing argument).",
    opts, sizeof(opts) / sizeof(opts[0])};

static int open_store(struct ks_store **s, const char *db, int create)
{
    struct ks_err err = {0};
    int rc = ks_shell_db_check(db);
    if (rc != 0) {
        return rc;
    }
    if (!create && strcmp(db, ":memory:") != 0 && access(db, F_OK) != 0) {
        ks_cli_error("%s: no such database (kintsugi token create or ingest creates it; --db "
                     "names another)",
                     db);
        return KS_EXIT_FAIL;
    }
    if (ks_store_open(s, db, &err) != KS_OK) {
        ks_cli_error("%s", err.msg);
        return err.rc == KS_EUSAGE ? KS_EXIT_USAGE : KS_EXIT_FAIL;
    }
    return KS_EXIT_OK;
}

static int token_create(const char *db)
{
    const char *name = ks_cli_opt(&spec, "name")->value;
    const char *role_s = ks_cli_opt(&spec, "role")->value;
    enum ks_auth_role role;
    if (!name) {
        ks_cli_error("'token create' needs --name NAME (who the token is; see --help)");
        return KS_EXIT_USAGE;
    }
    if (!ks_auth_name_ok(name)) {
        ks_cli_error("--name '%s' is not a token name: 1 to %d letters, digits, '.', '_', '-' "
                     "or '@'",
                     name, KS_TOKEN_NAME_MAX);
        return KS_EXIT_USAGE;
    }
    if (!role_s || ks_role_parse(role_s, &role) != 0) {
        ks_cli_error("'token create' needs --role viewer, responder or admin%s%s%s",
                     role_s ? " (got '" : "", role_s ? role_s : "", role_s ? "')" : "");
        return KS_EXIT_USAGE;
    }
    struct ks_store *s;
    int rc = open_store(&s, db, 1);
    if (rc != 0) {
        return rc;
    }
    struct ks_err err = {0};
    char token[KS_TOKEN_BUF];
    enum ks_rc r = ks_auth_create(s, name, role, ks_time_now(), token, &err);
    ks_store_close(s);
    if (r != KS_OK) {
        ks_cli_error("%s", err.msg);
        return r == KS_EUSAGE ? KS_EXIT_USAGE : KS_EXIT_FAIL;
    }
    printf("%s\n", token);
    fflush(stdout);
    memset(token, 0, sizeof(token));
    fprintf(stderr,
            "kintsugi: token '%s' (%s) created; this is the only time it is shown: keep it now\n",
            name, ks_role_name(role));
    return KS_EXIT_OK;
}

struct lister {
    struct ks_json *j;
    int n;
};

static int list_row(void *ctx, const struct ks_token_info *t)
{
    struct lister *l = ctx;
    l->n++;
    if (!l->j) {
        char created[32], revoked[32] = "-";
        ks_time_fmt(t->created_at, created);
        if (t->revoked_at != KS_TIME_NONE) {
            ks_time_fmt(t->revoked_at, revoked);
        }
        printf("%-24s %-10s %-25s %s\n", t->name, ks_role_name(t->role), created, revoked);
        return 0;
    }
    struct ks_json *j = l->j;
    ks_json_obj_begin(j);
    ks_json_key(j, "name");
    ks_json_str(j, t->name);
    ks_json_key(j, "role");
    ks_json_str(j, ks_role_name(t->role));
    ks_json_key(j, "created_at");
    ks_json_time(j, t->created_at);
    ks_json_key(j, "revoked_at");
    ks_json_time(j, t->revoked_at);
    ks_json_obj_end(j);
    return 0;
}

static int token_list(const char *db)
{
    struct ks_store *s;
    int rc = open_store(&s, db, 0);
    if (rc != 0) {
        return rc;
    }
    struct ks_buf out = {0};
    struct ks_json j;
    ks_json_init(&j, &out, 0);
    int json = ks_cli_opt(&spec, "json")->set;
    struct lister l = {json ? &j : NULL, 0};
    if (json) {
        ks_json_arr_begin(&j);
    } else {
        printf("%-24s %-10s %-25s %s\n", "NAME", "ROLE", "CREATED", "REVOKED");
    }
    struct ks_err err = {0};
    if (ks_auth_list(s, list_row, &l, &err) != KS_OK) {
        ks_cli_error("%s", err.msg);
        rc = KS_EXIT_FAIL;
    } else if (json) {
        ks_json_arr_end(&j);
        printf("%s\n", out.p);
    } else if (l.n == 0) {
        printf("(no tokens: kintsugi token create --name NAME --role ROLE)\n");
    }
    ks_buf_fini(&out);
    ks_store_close(s);
    return rc;
}

static int token_revoke(const char *db, const char *name)
{
    struct ks_store *s;
    int rc = open_store(&s, db, 0);
    if (rc != 0) {
        return rc;
    }
    struct ks_err err = {0};
    int was = 0;
    enum ks_rc r = ks_auth_revoke(s, name, ks_time_now(), &was, &err);
    ks_store_close(s);
    if (r != KS_OK) {
        ks_cli_error("%s", err.msg);
        return KS_EXIT_FAIL;
    }
    printf(was ? "token '%s' was already revoked\n" : "token '%s' revoked\n", name);
    return KS_EXIT_OK;
}

int ks_cmd_token(int argc, char **argv)
{
    char **args = ks_malloc(((size_t)argc + 1) * sizeof(char *));
    int nargs, rc = ks_cli_parse(&spec, argc, argv, args, &nargs);
    if (rc != 0) {
        ks_free(args);
        return rc < 0 ? KS_EXIT_OK : rc;
    }
    const char *db = ks_cli_opt(&spec, "db")->value;
    db = db ? db : "kintsugi.db";
    const char *verb = nargs > 0 ? args[0] : NULL;
    int only_create = ks_cli_opt(&spec, "name")->set || ks_cli_opt(&spec, "role")->set;
    if (verb && strcmp(verb, "create") == 0 && nargs == 1) {
        rc = token_create(db);
    } else if (verb && strcmp(verb, "list") == 0 && nargs == 1 && !only_create) {
        rc = token_list(db);
    } else if (verb && strcmp(verb, "revoke") == 0 && nargs == 2 && !only_create) {
        rc = token_revoke(db, args[1]);
    } else {
        if (!verb) {
            ks_cli_error("token needs a verb: create, list or revoke");
        } else if (strcmp(verb, "create") != 0 && strcmp(verb, "list") != 0 &&
                   strcmp(verb, "revoke") != 0) {
            ks_cli_error("unknown token command '%s': use create, list or revoke", verb);
        } else if (strcmp(verb, "revoke") == 0 && nargs != 2) {
            ks_cli_error("'token revoke' takes one argument: the token's NAME");
        } else if (only_create && strcmp(verb, "create") != 0) {
            ks_cli_error("--name and --role are for 'token create'");
        } else {
            ks_cli_error("'token %s' takes no argument", verb);
        }
        ks_cli_help(&spec, stderr);
        rc = KS_EXIT_USAGE;
    }
    ks_free(args);
    return rc;
}
