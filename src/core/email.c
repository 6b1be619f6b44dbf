/*
 * email.c - what an e-mail address must be before kintsugi writes it into
 * an SMTP command (RCPT TO:<...>) or a header (To:): one address, nothing
 * that could end it early, add another, or start a new line. The event
 * decoder (an order's `email`), the configuration (a person's `email`, a
 * receiver's `from`) and the SMTP sender itself all ask this one function,
 * so an address that passes one passes them all.
 */
#include "core.h"

#include <string.h>

/* The longest address SMTP carries (RFC 5321: a 256-byte path, less its
 * angle brackets). */
#define EMAIL_MAX 254

/* Characters that would make the text more (or other) than one plain
 * address: list separators, angle brackets, quoting, comments, domain
 * literals, and the ':' of a group or a new SMTP command. */
static const char specials[] = "<>,;:\"()[]\\";

/* Why the byte at s[i] (of n) may not be in an address, or NULL. C1
 * controls (U+0080..U+009F, C2 80..C2 9F in UTF-8) count as control
 * characters like the ASCII ones. */
static const char *bad_char(const char *s, size_t n, size_t i, char *buf, size_t cap)
{
    unsigned char c = (unsigned char)s[i];
    if (c == ' ' || c == '\t') {
        return "white space is not allowed";
    }
    if (c < 0x20 || c == 0x7f ||
        (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
         (unsigned char)s[i + 1] <= 0x9F)) {
        return "a control character is not allowed";
    }
    if (c && strchr(specials, c)) {
        snprintf(buf, cap, "'%c' is not allowed", c);
        return buf;
    }
    return NULL;
}

const char *ks_email_invalid(const char *s, size_t n, char *buf, size_t cap)
{
    /* A line break first, wherever it is: it is what would let the text
     * start an SMTP command or a header of its own. Then the other faults
     * in a fixed order (and the first offending character), so that the
     * same text always gives the same reason. */
    if (memchr(s, '\r', n) || memchr(s, '\n', n)) {
        return "a line break is not allowed";
    }
    if (n > EMAIL_MAX) {
        snprintf(buf, cap, "it is longer than %d bytes", EMAIL_MAX);
        return buf;
    }
    if (ks_utf8_invalid_at(s, n) != (size_t)-1) {
        return "it is not valid UTF-8";
    }
    for (size_t i = 0; i < n; i++) {
        const char *why = bad_char(s, n, i, buf, cap);
        if (why) {
            return why;
        }
    }
    const char *at = memchr(s, '@', n);
    if (!at) {
        return "it has no '@'";
    }
    if (memchr(at + 1, '@', n - (size_t)(at + 1 - s))) {
        return "it has more than one '@'";
    }
    if (at == s) {
        return "nothing comes before the '@'";
    }
    if (at + 1 == s + n) {
        return "nothing comes after the '@'";
    }
    return NULL;
}
