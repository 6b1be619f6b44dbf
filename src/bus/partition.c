/* partition.c - which subject an event goes to (see bus.h), and the checks
 * of the names a bus is configured with. */
#include "bus.h"

#include "../event/event.h"

#include <stdio.h>
#include <string.h>

static struct ks_str str_of(const char *s)
{
    return (struct ks_str){s, strlen(s)};
}

struct ks_str ks_bus_key(const struct ks_event *ev, char *buf, size_t cap)
{
    switch (ev->type) {
    case KS_EV_INVENTORY:
    case KS_EV_SYNC:
    case KS_EV_ORDER:
        return ev->channel;
    case KS_EV_HEALTH:
        if (ev->location.p && ev->system.len + 1 + ev->location.len < cap) {
            memcpy(buf, ev->system.p, ev->system.len);
            buf[ev->system.len] = '/';
            memcpy(buf + ev->system.len + 1, ev->location.p, ev->location.len);
            return (struct ks_str){buf, ev->system.len + 1 + ev->location.len};
        }
        return ev->system;
    case KS_EV_RECEIPT:
        return ev->po;
    case KS_EV_STOCK:
        return ev->sku;
    case KS_EV_COMPLAINT:
        return ev->channel.p ? ev->channel : ev->order_id.p ? ev->order_id : str_of("complaint");
    case KS_EV_FEEDBACK:
        return ev->order_id.p ? ev->order_id : str_of("feedback");
    case KS_EV_METRIC:
        return ev->name;
    default:
        return str_of(ks_event_type_name(ev->type) ? ks_event_type_name(ev->type) : "event");
    }
}

uint32_t ks_bus_hash(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 16777619u;
    }
    return h;
}

uint32_t ks_bus_partition(struct ks_str key, uint32_t n)
{
    return n ? ks_bus_hash(key.p, key.len) % n : 0;
}

void ks_bus_subject(const char *prefix, uint32_t part, char *out, size_t cap)
{
    snprintf(out, cap, "%s.%u", prefix, part);
}

int ks_bus_url_check(const char *url, struct ks_err *err)
{
    const char *p = url;
    if (!*p) {
        ks_err_set(err, KS_EUSAGE, "an empty bus URL (expected nats://HOST:PORT)");
        return -1;
    }
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        /* nats://HOST:PORT, or HOST:PORT after the first (the scheme is
         * taken as said: nats://a:4222,b:4222,c:4222) */
        size_t skip = n > 7 && memcmp(p, "nats://", 7) == 0 ? 7 : p == url ? n : 0;
        const char *colon = skip < n ? memrchr(p + skip, ':', n - skip) : NULL;
        size_t port_len = colon ? n - (size_t)(colon + 1 - p) : 0;
        int ok = colon && colon > p + skip && port_len >= 1 && port_len <= 5;
        long port = 0;
        for (size_t i = 0; ok && i < port_len; i++) {
            ok = colon[1 + i] >= '0' && colon[1 + i] <= '9';
            port = port * 10 + (colon[1 + i] - '0');
        }
        if (ok && (port < 1 || port > 65535)) {
            ks_err_set(err, KS_EUSAGE, "bus URL '%.*s': port %ld is not a TCP port (1 to 65535)",
                       (int)n, p, port);
            return -1;
        }
        if (!ok) {
            ks_err_set(err, KS_EUSAGE, "bus URL '%.*s': expected nats://HOST:PORT (several "
                                       "separated by commas)",
                       (int)n, p);
            return -1;
        }
        p += n + (e ? 1 : 0);
    }
    return 0;
}

int ks_bus_name_check(const char *what, const char *name, int dots, struct ks_err *err)
{
    size_t n = strlen(name);
    int ok = n >= 1 && n <= 64 && name[0] != '.' && name[n - 1] != '.';
    for (size_t i = 0; ok && i < n; i++) {
        char c = name[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '-' || c == '_' || (dots && c == '.' && name[i + 1] != '.');
    }
    if (!ok) {
        ks_err_set(err, KS_EUSAGE, "%s '%s': use 1 to 64 letters, digits, '-' or '_'%s", what,
                   name, dots ? " (and '.' between words)" : "");
        return -1;
    }
    return 0;
}

uint64_t ks_bus_lines(const char *data, size_t len)
{
    uint64_t lines = 1;
    for (const char *q = data; data && (q = memchr(q, '\n', (size_t)(data + len - q))) != NULL;
         q++) {
        lines++;
    }
    return lines;
}
