/* time.c - RFC 3339 timestamps and durations as int64 milliseconds (UTC). */
#include "core.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Howard Hinnant's days_from_civil: exact for the proleptic Gregorian calendar. */
int64_t ks_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void ks_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t yy = (int64_t)yoe + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp + (mp < 10 ? 3 : -9);
    *y = yy + (*m <= 2);
}

static int digits(const char *s, size_t n, size_t at, size_t count, int *out)
{
    if (at + count > n) {
        return -1;
    }
    int v = 0;
    for (size_t i = 0; i < count; i++) {
        char c = s[at + i];
        if (c < '0' || c > '9') {
            return -1;
        }
        v = v * 10 + (c - '0');
    }
    *out = v;
    return 0;
}

int ks_time_parse(const char *s, size_t n, ks_time *out, const char **why)
{
    static const unsigned char mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, se;
    const char *dummy;
    if (!why) {
        why = &dummy;
    }
    if (digits(s, n, 0, 4, &y) || n < 5 || s[4] != '-' || digits(s, n, 5, 2, &mo) || n < 8 ||
        s[7] != '-' || digits(s, n, 8, 2, &d)) {
        *why = "must be an RFC 3339 timestamp (YYYY-MM-DDTHH:MM:SSZ) or epoch milliseconds";
        return -1;
    }
    if (n < 11 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || digits(s, n, 11, 2, &h) ||
        n < 14 || s[13] != ':' || digits(s, n, 14, 2, &mi) || n < 17 || s[16] != ':' ||
        digits(s, n, 17, 2, &se)) {
        *why = "must be an RFC 3339 timestamp with a time and a zone (YYYY-MM-DDTHH:MM:SSZ)";
        return -1;
    }
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
        h > 23 || mi > 59 || se > 60) {
        *why = "is not a valid calendar date and time";
        return -1;
    }
    if (se == 60) {
        se = 59; /* a leap second is kept inside its minute */
    }
    size_t i = 19;
    int ms = 0;
    if (i < n && s[i] == '.') {
        i++;
        size_t start = i;
        int scale = 100;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            ms += (s[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == start || i - start > 9) {
            *why = "has a bad fraction of a second";
            return -1;
        }
    }
    int64_t off = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        int oh, om;
        if (digits(s, n, i + 1, 2, &oh) || i + 3 >= n || s[i + 3] != ':' ||
            digits(s, n, i + 4, 2, &om) || oh > 23 || om > 59) {
            *why = "has a bad zone offset (use Z or +hh:mm)";
            return -1;
        }
        off = (oh * 60 + om) * KS_MIN;
        if (s[i] == '-') {
            off = -off;
        }
        i += 6;
    } else {
        *why = "needs a zone (Z or +hh:mm)";
        return -1;
    }
    if (i != n) {
        *why = "has trailing characters after the timestamp";
        return -1;
    }
    int64_t days = ks_days_from_civil(y, (unsigned)mo, (unsigned)d);
    *out = ((days * 24 + h) * 60 + mi) * KS_MIN + se * KS_SEC + ms - off;
    return 0;
}

void ks_time_fmt(ks_time t, char out[32])
{
    if (t == KS_TIME_NONE) {
        strcpy(out, "-");
        return;
    }
    int64_t days = t >= 0 ? t / KS_DAY : -((-t + KS_DAY - 1) / KS_DAY);
    int64_t rem = t - days * KS_DAY;
    int64_t y;
    unsigned m, d;
    ks_civil_from_days(days, &y, &m, &d);
    char tmp[96];
    snprintf(tmp, sizeof(tmp), "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ", (long long)y, m, d,
             (long long)(rem / KS_HOUR), (long long)(rem / KS_MIN % 60),
             (long long)(rem / KS_SEC % 60), (long long)(rem % 1000));
    memcpy(out, tmp, 31);
    out[31] = 0;
}

int ks_duration_parse(const char *s, ks_time *out)
{
    char *end;
    if (!s || !*s) {
        return -1;
    }
    double v = strtod(s, &end);
    if (end == s || v < 0) {
        return -1;
    }
    double mult;
    if (!*end || strcmp(end, "s") == 0) {
        mult = KS_SEC;
    } else if (strcmp(end, "ms") == 0) {
        mult = 1;
    } else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0) {
        mult = KS_MIN;
    } else if (strcmp(end, "h") == 0) {
        mult = KS_HOUR;
    } else if (strcmp(end, "d") == 0) {
        mult = KS_DAY;
    } else if (strcmp(end, "w") == 0) {
        mult = 7 * KS_DAY;
    } else {
        return -1;
    }
    *out = (ks_time)(v * mult + 0.5);
    return 0;
}

void ks_duration_fmt(ks_time d, char out[32])
{
    /* Largest units first, zero parts left out: "30m", "1h30m", "2d", "1.500s". */
    static const struct {
        ks_time unit;
        char name;
    } units[] = {{KS_DAY, 'd'}, {KS_HOUR, 'h'}, {KS_MIN, 'm'}};
    if (d < 0) {
        d = 0;
    }
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < 3; i++) {
        if (d >= units[i].unit) {
            o += (size_t)snprintf(out + o, 32 - o, "%lld%c", (long long)(d / units[i].unit),
                                  units[i].name);
            d %= units[i].unit;
        }
    }
    if (d > 0 || o == 0) {
        if (d % KS_SEC == 0) {
            snprintf(out + o, 32 - o, "%llds", (long long)(d / KS_SEC));
        } else {
            snprintf(out + o, 32 - o, "%lld.%03llds", (long long)(d / KS_SEC),
                     (long long)(d % KS_SEC));
        }
    }
}

ks_time ks_time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (ks_time)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
