/*
 * test_bus.c - the bus's partitioning (src/bus/partition.c): FNV-1a 32 of
 * the key, exact partitions for known keys (they must never move: a stream
 * published by one version is consumed by the next), the key of every event
 * type from decoded lines, subjects, and the checks of URLs and names; and,
 * against a real nats-server, that no connection callback arrives after the
 * connection is closed (the consumer frees its state right after).
 */
#include "../../src/bus/bus_int.h"
#include "../../src/event/event.h"
#include "t.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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
    CHECK_INT(ks_bus_url_check("nats://a:65535", &err), 0);
    CHECK_INT(ks_bus_url_check("nats://a:4222,b:70000", &err), -1);
    CHECK(strstr(err.msg, "'b:70000': port 70000 is not a TCP port (1 to 65535)") != NULL);
    CHECK_INT(ks_bus_url_check("nats://a:0", &err), -1);
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

static void on_disconnected(natsConnection *nc, void *ctx)
{
    (void)nc;
    __atomic_add_fetch((int *)ctx, 1, __ATOMIC_SEQ_CST);
}

/* A free TCP port on 127.0.0.1 (0 when none could be had). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof(a);
    int port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &n) == 0) {
        port = ntohs(a.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Each close delivers its disconnected callback before ks_bus_conn_close
 * returns, and nothing after: `kintsugi serve --bus` frees the consumer
 * (the callbacks' ctx) right after closing, and a callback arriving later
 * read freed memory (found by AddressSanitizer in bus.sh under load). */
static void no_callback_after_close(void)
{
    int port = free_port();
    CHECK(port > 0);
    char ports[16], url[64];
    snprintf(ports, sizeof(ports), "%d", port);
    snprintf(url, sizeof(url), "nats://127.0.0.1:%d", port);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execlp("nats-server", "nats-server", "-a", "127.0.0.1", "-p", ports, (char *)NULL);
        _exit(127);
    }
    CHECK(pid > 0);
    struct ks_bus_conf conf = {.url = url};
    struct ks_err err = {0};
    int connected = 0;
    for (int i = 0; i < 100 && !connected; i++) {
        struct ks_bus_conn bc;
        int n = 0;
        if (ks_bus_options(&bc, &conf, 0, on_disconnected, NULL, &n, &err) == 0 &&
            ks_bus_connect(&bc, NULL, &err) == 0) {
            connected = 1;
        } else {
            sleep_ms(50);
        }
        ks_bus_conn_close(&bc);
    }
    CHECK(connected); /* nats-server is installed by scripts/deps.sh */
    for (int i = 0; i < 20 && connected; i++) {
        struct ks_bus_conn bc;
        int n = 0;
        CHECK_INT(ks_bus_options(&bc, &conf, 0, on_disconnected, NULL, &n, &err), 0);
        CHECK_INT(ks_bus_connect(&bc, NULL, &err), 0);
        ks_bus_conn_close(&bc);
        int seen = __atomic_load_n(&n, __ATOMIC_SEQ_CST);
        CHECK_INT(seen, 1);
        sleep_ms(10);
        CHECK_INT(__atomic_load_n(&n, __ATOMIC_SEQ_CST), seen);
    }
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    nats_Close();
}

int main(void)
{
    RUN(fnv1a_known_values);
    RUN(partitions_of_known_keys);
    RUN(keys_keep_an_update_together);
    RUN(subjects);
    RUN(urls_and_names);
    RUN(no_callback_after_close);
    ks_decoder_free(d);
    return t_done();
}
