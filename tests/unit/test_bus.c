/*
 * test_bus.c - the bus's partitioning (src/bus/partition.c): FNV-1a 32 of
 * the key, exact partitions for known keys (they must never move: a stream
 * published by one version is consumed by the next), the key of every event
 * type from decoded lines, subjects, and the checks of URLs and names.
 */
#include "../../src/bus/bus.h"
#include "../../src/event/event.h"
#include "t.h"

static struct ks_str s_(const char *s)
{
    return (struct ks_str){s, strlen(s)};
}

static void fnv1a_known_values(void)
{
    /* FNV-1a 32: the offset basis for the empty key, then published values */
    CHECK_INT(ks_bus_hash("", 0), 0x811c9dc5u);
    CHECK_INT(ks_bus_hash("a", 1), 0xe40c292cu);
    CHECK_INT(ks_bus_hash("foobar", 6), 0xbf9cf968u);
    CHECK_INT(ks_bus_hash("amazon", 6), 0x0e9c0dedu);
}

static void partitions_of_known_keys(void)
{
    CHECK_INT(ks_bus_partition(s_("amazon"), 8), 5);
    CHECK_INT(ks_bus_partition(s_("ebay"), 8), 4);
    CHECK_INT(ks_bus_partition(s_("shopify"), 8), 1);
    CHECK_INT(ks_bus_partition(s_("wms/berlin"), 8), 3);
    CHECK_INT(ks_bus_partition(s_("wms"), 8), 6);
    CHECK_INT(ks_bus_partition(s_("PO-1001"), 8), 1);
    CHECK_INT(ks_bus_partition(s_("PO-1001"), 16), 9);
    CHECK_INT(ks_bus_partition(s_("amazon"), 16), 13);
    CHECK_INT(ks_bus_partition(s_("SKU-0012345"), 8), 0);
    CHECK_INT(ks_bus_partition(s_("tick"), 8), 4);
    CHECK_INT(ks_bus_partition(s_("anything"), 1), 0);
}

/* The key of a line, decoded as ingest decodes it. */
static struct ks_decoder *d;
static const char *key_of(const char *line, char *out)
{
    if (!d) {
        d = ks_decoder_new();
    }
    struct ks_event ev;
    struct ks_err err = {0};
    if (ks_event_decode(d, line, strlen(line), &ev, &err) != KS_OK) {
        snprintf(out, 128, "rejected: %.100s", err.msg);
        return out;
    }
    char buf[128];
    struct ks_str k = ks_bus_key(&ev, buf, sizeof(buf));
    snprintf(out, 128, "%.*s", (int)k.len, k.p);
    return out;
}

static void keys_keep_an_update_together(void)
{
    char o[128];
    CHECK_STR(key_of("{\"type\":\"inventory\",\"ts\":1,\"channel\":\"amazon\",\"sku\":\"A\",\"qty\":1}", o),
              "amazon");
    CHECK_STR(key_of("{\"type\":\"sync\",\"ts\":1,\"channel\":\"amazon\",\"status\":\"ok\"}", o),
              "amazon");
    CHECK_STR(key_of("{\"type\":\"order\",\"ts\":1,\"order_id\":\"o1\",\"channel\":\"ebay\","
                     "\"status\":\"accepted\"}",
                     o),
              "ebay");
    CHECK_STR(key_of("{\"type\":\"health\",\"ts\":1,\"system\":\"wms\",\"location\":\"berlin\","
                     "\"status\":\"down\"}",
                     o),
              "wms/berlin");
    CHECK_STR(key_of("{\"type\":\"health\",\"ts\":1,\"system\":\"oms\",\"status\":\"up\"}", o),
              "oms");
    CHECK_STR(key_of("{\"type\":\"receipt\",\"ts\":1,\"po\":\"PO-1001\",\"supplier\":\"s\","
                     "\"sku\":\"A\",\"expected\":2,\"received\":1}",
                     o),
              "PO-1001");
    CHECK_STR(key_of("{\"type\":\"stock\",\"ts\":1,\"sku\":\"SKU-1\",\"qty\":3}", o), "SKU-1");
    CHECK_STR(key_of("{\"type\":\"complaint\",\"ts\":1,\"reason\":\"late\",\"channel\":\"ebay\"}",
                     o),
              "ebay");
    CHECK_STR(key_of("{\"type\":\"complaint\",\"ts\":1,\"reason\":\"late\",\"order_id\":\"o9\"}",
                     o),
              "o9");
    CHECK_STR(key_of("{\"type\":\"complaint\",\"ts\":1,\"reason\":\"late\"}", o), "complaint");
    CHECK_STR(key_of("{\"type\":\"feedback\",\"ts\":1,\"score\":4,\"order_id\":\"o2\"}", o), "o2");
    CHECK_STR(key_of("{\"type\":\"feedback\",\"ts\":1,\"score\":4}", o), "feedback");
    CHECK_STR(key_of("{\"type\":\"metric\",\"ts\":1,\"name\":\"conversion\",\"value\":0.1}", o),
              "conversion");
    CHECK_STR(key_of("{\"type\":\"tick\",\"ts\":1}", o), "tick");
}

static void subjects(void)
{
    char s[64];
    ks_bus_subject(KS_BUS_PREFIX, 5, s, sizeof(s));
    CHECK_STR(s, "kintsugi.events.5");
    ks_bus_subject("shop.ev", 0, s, sizeof(s));
    CHECK_STR(s, "shop.ev.0");
}

static void urls_and_names(void)
{
    struct ks_err err = {0};
    CHECK_INT(ks_bus_url_check("nats://127.0.0.1:4222", &err), 0);
    CHECK_INT(ks_bus_url_check("nats://a:1,nats://b:4222", &err), 0);
    CHECK_INT(ks_bus_url_check("http://a:4222", &err), -1);
    CHECK(strstr(err.msg, "'http://a:4222': expected nats://HOST:PORT") != NULL);
    CHECK_INT(ks_bus_url_check("nats://a", &err), -1);
    CHECK_INT(ks_bus_url_check("nats://:4222", &err), -1);
    CHECK_INT(ks_bus_url_check("nats://a:42x", &err), -1);
    CHECK_INT(ks_bus_url_check("nats://a:1,", &err), 0); /* a trailing comma names nothing */
    CHECK_INT(ks_bus_url_check("", &err), -1);
    CHECK_INT(ks_bus_name_check("--stream", "KINTSUGI", 0, &err), 0);
    CHECK_INT(ks_bus_name_check("--stream", "a.b", 0, &err), -1);
    CHECK(strstr(err.msg, "--stream 'a.b'") != NULL);
    CHECK_INT(ks_bus_name_check("--subject", "kintsugi.events", 1, &err), 0);
    CHECK_INT(ks_bus_name_check("--subject", "kintsugi..events", 1, &err), -1);
    CHECK_INT(ks_bus_name_check("--subject", "kintsugi.*", 1, &err), -1);
    CHECK_INT(ks_bus_name_check("--subject", "", 1, &err), -1);
}

int main(void)
{
    RUN(fnv1a_known_values);
    RUN(partitions_of_known_keys);
    RUN(keys_keep_an_update_together);
    RUN(subjects);
    RUN(urls_and_names);
    ks_decoder_free(d);
    return t_done();
}
