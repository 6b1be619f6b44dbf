/* err.c - errors that carry their message, assertions, logging. */
#include "core.h"

#include <stdlib.h>
#include <string.h>

enum ks_log_level ks_log_min = KS_LOG_INFO;

enum ks_rc ks_err_set(struct ks_err *err, enum ks_rc rc, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->rc = rc;
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return rc;
}

void ks_one_line(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (; *in && o + 5 < cap; in++) {
        unsigned char ch = (unsigned char)*in;
        if (ch < 0x20 || ch == 0x7f) {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o] = 0;
    size_t bad = ks_utf8_invalid_at(out, o);
    if (bad != (size_t)-1) {
        out[bad] = 0;
    }
}

void ks_err_one_line(struct ks_err *err)
{
    if (!err) {
        return;
    }
    char tmp[sizeof(err->msg)];
    ks_one_line(err->msg, tmp, sizeof(tmp));
    memcpy(err->msg, tmp, sizeof(tmp));
}

void ks_err_prefix(struct ks_err *err, const char *fmt, ...)
{
    if (!err) {
        return;
    }
    char pre[256], old[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof(pre), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    size_t np = strlen(pre), no = strnlen(old, sizeof(old) - 1);
    if (np > sizeof(err->msg) - 1) {
        np = sizeof(err->msg) - 1;
    }
    if (no > sizeof(err->msg) - 1 - np) {
        no = sizeof(err->msg) - 1 - np;
    }
    memcpy(err->msg, pre, np);
    memcpy(err->msg + np, old, no);
    err->msg[np + no] = 0;
}

void ks_assert_fail(const char *file, int line, const char *expr)
{
    fprintf(stderr, "kintsugi: internal error at %s:%d: assertion '%s' failed\n", file, line,
            expr);
    abort();
}

void ks_log(enum ks_log_level lvl, const char *mod, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (lvl < ks_log_min) {
        return;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct ks_buf b = {0};
    ks_buf_printf(&b, "level=%s mod=%s msg=", names[lvl], mod);
    ks_json_escape(&b, msg, strlen(msg));
    fprintf(stderr, "%s\n", b.p);
    ks_buf_fini(&b);
}
