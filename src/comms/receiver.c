/*
 * receiver.c - one attempt to deliver a message through a receiver: a
 * webhook (JSON, or a Slack-compatible body; through the hooks' HTTP
 * client, src/contain/hook.h), e-mail over SMTP (libcurl, a MIME message
 * with a text/plain part, STARTTLS and login as configured) or a directory
 * (one file per message, named by its idempotency key, written to a
 * temporary name and renamed, so a reader never sees half a file and a
 * message delivered twice is one file).
 */
#include "comms.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void put_str(struct ks_buf *b, const char *k, const char *v, int comma)
{
    if (comma) {
        ks_buf_putc(b, ',');
    }
    ks_json_escape(b, k, strlen(k));
    ks_buf_putc(b, ':');
    if (v) {
        ks_json_escape(b, v, strlen(v));
    } else {
        ks_buf_puts(b, "null");
    }
}

void ks_comms_message_json(const struct ks_message_row *m, int slack, struct ks_buf *out)
{
    ks_buf_putc(out, '{');
    if (slack) {
        struct ks_buf t = {0};
        ks_buf_printf(&t, "*%s*\n%s", m->subject, m->body);
        put_str(out, "text", t.p, 0);
        ks_buf_fini(&t);
        put_str(out, "idempotency_key", m->key, 1);
        ks_buf_printf(out, ",\"incident\":%lld}", (long long)m->incident);
        return;
    }
    put_str(out, "idempotency_key", m->key, 0);
    ks_buf_printf(out, ",\"incident\":%lld", (long long)m->incident);
    put_str(out, "kind", m->kind, 1);
    put_str(out, "audience", m->audience, 1);
    put_str(out, "recipient", m->recipient, 1);
    put_str(out, "order", m->order_id, 1);
    put_str(out, "subject", m->subject, 1);
    put_str(out, "body", m->body, 1);
    char at[32];
    ks_time_fmt(m->created_at, at);
    put_str(out, "created_at", at, 1);
    ks_buf_putc(out, '}');
}

ks_time ks_comms_backoff(const struct ks_receiver_cfg *r, int n)
{
    struct ks_hook_cfg h = {0};
    h.backoff = r->backoff;
    return ks_hook_backoff(&h, n);
}

static void webhook(const struct ks_receiver_cfg *r, const struct ks_message_row *m,
                    struct ks_send_result *out)
{
    struct ks_hook_cfg h = {0};
    h.url = r->webhook;
    h.timeout = r->timeout;
    h.headers = r->headers;
    h.nheaders = r->nheaders;
    struct ks_buf body = {0};
    ks_comms_message_json(m, r->slack, &body);
    struct ks_hook_result res;
    enum ks_rc rc = ks_hook_attempt(&h, body.p, m->key, &res);
    ks_buf_fini(&body);
    out->ok = res.ok;
    out->retryable = rc == KS_OK;
    long st = res.http_status;
    out->unavailable = !res.ok && out->retryable &&
                       (st == 0 || st == 429 || st == 502 || st == 503 || st == 504);
    out->retry_after = st == 429 || st == 503 ? res.retry_after : 0;
    snprintf(out->detail, sizeof(out->detail), "%s", res.detail);
}

/* ---- SMTP ------------------------------------------------------------------------ */

/* Whether a header value can be written as it is: printable ASCII (and
 * tab), and no "=?", which a reader would take for the start of an
 * encoded-word. */
static int header_plain(const char *s)
{
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c < 0x20 && c != '\t') || c >= 0x7f || (c == '=' && p[1] == '?')) {
            return 0;
        }
    }
    return 1;
}

static void base64(struct ks_buf *b, const unsigned char *s, size_t n)
{
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        v |= i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0;
        v |= i + 2 < n ? s[i + 2] : 0;
        ks_buf_putc(b, digits[v >> 18 & 63]);
        ks_buf_putc(b, digits[v >> 12 & 63]);
        ks_buf_putc(b, i + 1 < n ? digits[v >> 6 & 63] : '=');
        ks_buf_putc(b, i + 2 < n ? digits[v & 63] : '=');
    }
}

/* RFC 2047: an encoded-word is at most 75 characters, a line holding one
 * at most 76; "=?UTF-8?B?" and "?=" take 12 of them. */
#define WORD_MAX 75
#define LINE_MAX_2047 76
#define WORD_FRAME 12

void ks_comms_mail_header(struct ks_buf *out, const char *name, const char *value)
{
    ks_buf_printf(out, "%s: ", name);
    if (header_plain(value)) {
        ks_buf_puts(out, value);
        return;
    }
    size_t col = strlen(name) + 2, n = strlen(value);
    KS_ASSERT(col + WORD_FRAME + 4 <= LINE_MAX_2047);
    const unsigned char *s = (const unsigned char *)value;
    while (n > 0) {
        size_t room = LINE_MAX_2047 - col < WORD_MAX ? LINE_MAX_2047 - col : WORD_MAX;
        size_t k = (room - WORD_FRAME) / 4 * 3; /* bytes whose base64 fits */
        if (k >= n) {
            k = n;
        } else {
            /* whole characters only: a word never ends inside a UTF-8
             * sequence (a byte 10xxxxxx continues the one before it) */
            size_t whole = k;
            while (whole > 0 && (s[whole] & 0xC0) == 0x80) {
                whole--;
            }
            k = whole ? whole : k; /* not UTF-8 at all: the bytes as they are */
        }
        ks_buf_puts(out, "=?UTF-8?B?");
        base64(out, s, k);
        ks_buf_puts(out, "?=");
        s += k;
        n -= k;
        if (n > 0) {
            /* folded: the words of one value are joined again by a reader,
             * the white space between them dropped (RFC 2047 6.2) */
            ks_buf_puts(out, "\r\n ");
            col = 1;
        }
    }
}

/* Whether s holds a CR or a LF. */
static int has_line_break(const char *s)
{
    return s && strpbrk(s, "\r\n") != NULL;
}

/* Whether message m may go out through r as it is; if not, out says why
 * (failed for good: sending it again changes nothing). The addresses go
 * into SMTP commands (MAIL FROM, RCPT TO) and headers as they are, the
 * subject and the key into headers: a line break in any would end its line
 * and start one of the sender's choosing - another RCPT TO, a forged
 * header. The event decoder and the configuration let no such value in
 * (ks_email_invalid); this is the last check before the wire, for what an
 * older version stored or a person typed (messages test --to). */
static int smtp_allowed(const struct ks_receiver_cfg *r, const struct ks_message_row *m,
                        struct ks_send_result *out)
{
    const char *what = NULL, *v = NULL, *why = NULL;
    char buf[48];
    const char *to = m->recipient ? m->recipient : "", *from = r->from ? r->from : "";
    if ((why = ks_email_invalid(to, strlen(to), buf, sizeof(buf)))) {
        what = "recipient";
        v = to;
    } else if ((why = ks_email_invalid(from, strlen(from), buf, sizeof(buf)))) {
        what = "sender (from)";
        v = from;
    } else if (has_line_break(m->subject)) {
        what = "subject";
        v = m->subject;
    } else if (has_line_break(m->key)) {
        what = "idempotency key";
        v = m->key;
    }
    if (!what) {
        return 1;
    }
    why = why ? why : "a line break is not allowed in a header";
    /* out was cleared (ks_comms_send): not retryable, not unavailable */
    char shown[96];
    ks_one_line(v, shown, sizeof(shown));
    snprintf(out->detail, sizeof(out->detail), "not sent: the %s \"%s\" cannot go into a mail (%s)",
             what, shown, why);
    return 0;
}

/* A body with CRLF line ends and no bare CR. */
static char *crlf(const char *s)
{
    struct ks_buf b = {0};
    for (; *s; s++) {
        if (*s == '\r') {
            continue;
        }
        if (*s == '\n') {
            ks_buf_putc(&b, '\r');
        }
        ks_buf_putc(&b, *s);
    }
    ks_buf_putc(&b, 0);
    return b.p;
}

static void smtp(const struct ks_receiver_cfg *r, const struct ks_message_row *m,
                 struct ks_send_result *out)
{
    if (!smtp_allowed(r, m, out)) {
        return;
    }
    ks_hook_global_init();
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(out->detail, sizeof(out->detail), "cannot start libcurl");
        out->retryable = 1;
        out->unavailable = 1;
        return;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    struct ks_buf from = {0}, to = {0}, subj = {0}, mid = {0}, date = {0}, key = {0};
    ks_buf_printf(&from, "<%s>", r->from);
    ks_buf_printf(&to, "<%s>", m->recipient);
    ks_comms_mail_header(&subj, "Subject", m->subject);
    ks_buf_printf(&mid, "Message-ID: <%s@kintsugi>", m->key);
    ks_buf_printf(&key, "Idempotency-Key: %s", m->key);
    char now[64];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof(now), "Date: %a, %d %b %Y %H:%M:%S +0000", &tm);
    struct curl_slist *rcpt = curl_slist_append(NULL, to.p);
    struct curl_slist *hdrs = NULL;
    /* From and To are bare addresses, no display names: nothing in them
     * to encode (RFC 2047 has no form for an address itself). */
    struct ks_buf fromh = {0}, toh = {0};
    ks_buf_printf(&fromh, "From: %s", r->from);
    ks_buf_printf(&toh, "To: %s", m->recipient);
    const char *lines[] = {now, fromh.p, toh.p, subj.p, mid.p, key.p};
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        hdrs = curl_slist_append(hdrs, lines[i]);
    }
    char *text = crlf(m->body);
    curl_mime *mime = curl_mime_init(c);
    curl_mimepart *part = curl_mime_addpart(mime);
    curl_mime_data(part, text, CURL_ZERO_TERMINATED);
    curl_mime_type(part, "text/plain; charset=utf-8");
    curl_mime_encoder(part, "quoted-printable");

    curl_easy_setopt(c, CURLOPT_URL, r->smtp);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from.p);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)r->timeout);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)r->timeout);
    long tls = !r->tls || !strcmp(r->tls, "try")   ? (long)CURLUSESSL_TRY
               : !strcmp(r->tls, "required")       ? (long)CURLUSESSL_ALL
                                                   : (long)CURLUSESSL_NONE;
    curl_easy_setopt(c, CURLOPT_USE_SSL, tls);
    if (r->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (r->username) {
        curl_easy_setopt(c, CURLOPT_USERNAME, r->username);
        curl_easy_setopt(c, CURLOPT_PASSWORD, r->password ? r->password : "");
    }
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (rc == CURLE_OK) {
        out->ok = 1;
        snprintf(out->detail, sizeof(out->detail), "SMTP %ld accepted", code ? code : 250);
    } else {
        out->retryable = rc != CURLE_URL_MALFORMAT && rc != CURLE_UNSUPPORTED_PROTOCOL &&
                         !(code >= 500 && code <= 599);
        /* no reply, or 421 (closing the channel): the server, not this
         * message; another 4xx (450 mailbox busy) is about this message */
        out->unavailable = out->retryable && (code < 400 || code == 421);
        snprintf(out->detail, sizeof(out->detail), "SMTP %.150s%s%.80s", errbuf[0] ? errbuf : "",
                 errbuf[0] ? ": " : "", curl_easy_strerror(rc));
        if (code) {
            size_t l = strlen(out->detail);
            snprintf(out->detail + l, sizeof(out->detail) - l, " (reply %ld)", code);
        }
    }
    curl_mime_free(mime);
    curl_slist_free_all(rcpt);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    ks_free(text);
    ks_buf_fini(&from);
    ks_buf_fini(&to);
    ks_buf_fini(&subj);
    ks_buf_fini(&mid);
    ks_buf_fini(&date);
    ks_buf_fini(&key);
    ks_buf_fini(&fromh);
    ks_buf_fini(&toh);
}

/* ---- a directory ---------------------------------------------------------------- */

static void dir_outbox(const struct ks_receiver_cfg *r, const struct ks_message_row *m,
                       struct ks_send_result *out)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof(path), "%s/%s.json", r->dir, m->key);
    snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.tmp", r->dir, m->key, (long)getpid());
    struct ks_buf b = {0};
    ks_comms_message_json(m, 0, &b);
    ks_buf_putc(&b, '\n');
    out->retryable = 1;
    out->unavailable = 1; /* until written: a directory that fails, fails every message */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(out->detail, sizeof(out->detail), "%.180s: %s", r->dir, strerror(errno));
        ks_buf_fini(&b);
        return;
    }
    size_t off = 0;
    int bad = 0;
    while (off < b.len && !bad) {
        ssize_t w = write(fd, b.p + off, b.len - off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        bad = w <= 0;
        off += w > 0 ? (size_t)w : 0;
    }
    bad = bad || fsync(fd) != 0;
    int e = errno;
    bad = close(fd) != 0 || bad;
    if (!bad && rename(tmp, path) != 0) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        unlink(tmp);
        snprintf(out->detail, sizeof(out->detail), "%.180s: %s", path, strerror(e));
    } else {
        int dfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd); /* the rename itself survives a crash */
            close(dfd);
        }
        out->ok = 1;
        out->unavailable = 0;
        snprintf(out->detail, sizeof(out->detail), "written %.240s", path);
    }
    ks_buf_fini(&b);
}

void ks_comms_send(const struct ks_receiver_cfg *r, const struct ks_message_row *m,
                   struct ks_send_result *out)
{
    memset(out, 0, sizeof(*out));
    if (r->webhook) {
        webhook(r, m, out);
    } else if (r->smtp) {
        smtp(r, m, out);
    } else if (r->dir) {
        dir_outbox(r, m, out);
    } else {
        snprintf(out->detail, sizeof(out->detail), "receiver %s has no smtp, webhook or dir",
                 r->name);
    }
}
