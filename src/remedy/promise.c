/*
 * promise.c - the recovery promise (`kintsugi promise`): the service-recovery
 * policy of the configuration in plain language, as text, Markdown or HTML.
 * The document is a list of blocks (a title, headings, paragraphs, list
 * items) built once from the policy and rendered in each format, so that the
 * three say the same. docs/REMEDIES.md shows the example policy's promise.
 */
#include "remedy_int.h"

#include <string.h>

const char *ks_remedy_phrase(const char *kind)
{
    static const struct {
        const char *kind, *phrase;
    } p[] = {
        {"refund", "a refund of part of what you paid"},
        {"store_credit", "store credit for a later order"},
        {"replacement", "a replacement, or a substitute of equal value"},
        {"expedited_shipping", "faster shipping, at our cost"},
        {"discount_code", "a discount code for a later order"},
        {"cancel_with_refund", "cancelling your order, with a full refund"},
    };
    for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
        if (!strcmp(p[i].kind, kind)) {
            return p[i].phrase;
        }
    }
    return kind;
}

enum block_kind { B_TITLE, B_HEADING, B_PARA, B_ITEM };

struct doc {
    enum block_kind kind[48];
    struct ks_buf text[48];
    size_t n;
};

static struct ks_buf *add(struct doc *d, enum block_kind k)
{
    KS_ASSERT(d->n < 48);
    d->kind[d->n] = k;
    memset(&d->text[d->n], 0, sizeof(d->text[d->n]));
    return &d->text[d->n++];
}

/* "agent" -> "an agent" */
static void article(struct ks_buf *b, const char *word)
{
    ks_buf_printf(b, "%s %s", strchr("aeiouAEIOU", word[0]) ? "an" : "a", word);
}

/* What role r may grant at once, in words: "refunds up to 50.00 USD, ..."; 0
 * when nothing. */
static int role_rights(struct ks_buf *b, const struct ks_role *r, const char *currency)
{
    int n = 0, all = 1;
    for (const struct ks_action_name *a = ks_remedy_names; a->name; a++) {
        double limit;
        all &= ks_remedy_role_right(r, a->name, &limit) == KS_REMEDY_ANY;
    }
    if (all) {
        ks_buf_puts(b, "any remedy, of any amount");
        return 1;
    }
    for (const struct ks_action_name *a = ks_remedy_names; a->name; a++) {
        double limit;
        enum ks_remedy_right rt = ks_remedy_role_right(r, a->name, &limit);
        if (rt == KS_REMEDY_NONE) {
            continue;
        }
        ks_buf_puts(b, n++ ? "; " : "");
        ks_buf_puts(b, ks_remedy_phrase(a->name));
        if (rt == KS_REMEDY_UPTO) {
            ks_buf_printf(b, " (up to %.2f %s)", limit, currency);
        }
    }
    return n;
}

/* The roles that may grant every remedy of any amount, "a manager or a
 * director"; 0 when none. */
static int specialists(struct ks_buf *b, const struct ks_config *cfg)
{
    int n = 0;
    for (size_t i = 0; i < cfg->nroles; i++) {
        int all = 1;
        for (const struct ks_action_name *a = ks_remedy_names; a->name; a++) {
            double limit;
            all &= ks_remedy_role_right(&cfg->roles[i], a->name, &limit) == KS_REMEDY_ANY;
        }
        if (all) {
            ks_buf_puts(b, n++ ? " or " : "");
            article(b, cfg->roles[i].name);
        }
    }
    return n;
}

static void build(const struct ks_config *cfg, struct doc *d)
{
    ks_buf_puts(add(d, B_TITLE), "Our recovery promise");
    ks_buf_puts(add(d, B_PARA),
                "When we make a mistake that affects your order, we tell you ourselves: what "
                "happened, what we are doing about it, and when you will hear from us next. We "
                "do not wait for you to find out.");

    ks_buf_puts(add(d, B_HEADING), "What you can choose");
    int any = 0;
    for (int addon = 0; addon < 2; addon++) {
        size_t first = d->n;
        for (size_t i = 0; i < 4; i++) {
            const char *kind = ks_remedy_choices(NULL, addon, i);
            if (kind && ks_remedy_offerable(cfg, kind)) {
                if (d->n == first) {
                    ks_buf_puts(add(d, B_PARA),
                                addon ? "We may also add, without you asking:"
                                      : "If your order is affected, you choose how we put it "
                                        "right:");
                }
                ks_buf_puts(add(d, B_ITEM), ks_remedy_phrase(kind));
                any = 1;
            }
        }
    }
    if (!any) {
        ks_buf_puts(add(d, B_PARA), "We will talk with you about how to put it right.");
    }

    ks_buf_puts(add(d, B_HEADING), "Who decides");
    ks_buf_puts(add(d, B_PARA),
                "A person on our team decides every remedy and is accountable for it. Our "
                "systems may propose one; they never decide on their own.");
    size_t first = d->n;
    for (size_t i = 0; i < cfg->nroles; i++) {
        struct ks_buf rights = {0};
        if (role_rights(&rights, &cfg->roles[i], cfg->currency)) {
            if (d->n == first) {
                ks_buf_puts(add(d, B_PARA), "Who may grant what at once:");
            }
            struct ks_buf *b = add(d, B_ITEM);
            article(b, cfg->roles[i].name);
            ks_buf_printf(b, ": %s", rights.p);
        }
        ks_buf_fini(&rights);
    }
    struct ks_buf who = {0};
    if (!specialists(&who, cfg)) {
        ks_buf_puts(&who, "a senior colleague");
    }
    struct ks_buf *b = add(d, B_PARA);
    ks_buf_printf(b,
                  "Anything more is approved by a colleague whose authority covers it, and we "
                  "tell you when it is.");

    ks_buf_puts(add(d, B_HEADING), "Complex cases");
    b = add(d, B_PARA);
    ks_buf_printf(b,
                  "If your case is complex - the person helping you escalates it, it goes "
                  "beyond what they may grant, or your order needs a second remedy - a "
                  "specialist (%s) reviews it within 24 hours.",
                  who.p);
    ks_buf_fini(&who);

    ks_buf_puts(add(d, B_HEADING), "Your data");
    ks_buf_puts(add(d, B_PARA),
                "We use your order details and your contact address only to put this right and "
                "to keep you informed about it. We keep a record of what we offered, what you "
                "chose and who decided it, so that every decision can be checked. We do not use "
                "it for marketing.");
}

static void html_escape(struct ks_buf *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            ks_buf_puts(out, "&lt;");
            break;
        case '>':
            ks_buf_puts(out, "&gt;");
            break;
        case '&':
            ks_buf_puts(out, "&amp;");
            break;
        case '"':
            ks_buf_puts(out, "&quot;");
            break;
        default:
            ks_buf_putc(out, *s);
        }
    }
}

void ks_remedy_promise(const struct ks_config *cfg, enum ks_remedy_format f, struct ks_buf *out)
{
    struct doc d = {.n = 0};
    build(cfg, &d);
    if (f == KS_PROMISE_HTML) {
        ks_buf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                         "<title>Our recovery promise</title>\n</head>\n<body>\n");
    }
    for (size_t i = 0; i < d.n; i++) {
        const char *t = d.text[i].p ? d.text[i].p : "";
        int in_list = i > 0 && d.kind[i - 1] == B_ITEM;
        int list_ends = d.kind[i] == B_ITEM && (i + 1 == d.n || d.kind[i + 1] != B_ITEM);
        if (f == KS_PROMISE_HTML) {
            static const char *tag[] = {"h1", "h2", "p", "li"};
            if (d.kind[i] == B_ITEM && !in_list) {
                ks_buf_puts(out, "<ul>\n");
            }
            ks_buf_printf(out, "<%s>", tag[d.kind[i]]);
            html_escape(out, t);
            ks_buf_printf(out, "</%s>\n", tag[d.kind[i]]);
            if (list_ends) {
                ks_buf_puts(out, "</ul>\n");
            }
            continue;
        }
        /* text and Markdown: blocks apart by a blank line, list items together */
        if (i > 0 && !(d.kind[i] == B_ITEM && in_list)) {
            ks_buf_putc(out, '\n');
        }
        if (d.kind[i] == B_TITLE) {
            if (f == KS_PROMISE_MARKDOWN) {
                ks_buf_printf(out, "# %s\n", t);
            } else {
                ks_buf_printf(out, "%s\n", t);
                for (size_t k = 0; k < strlen(t); k++) {
                    ks_buf_putc(out, '=');
                }
                ks_buf_putc(out, '\n');
            }
        } else if (d.kind[i] == B_HEADING) {
            if (f == KS_PROMISE_MARKDOWN) {
                ks_buf_printf(out, "## %s\n", t);
            } else {
                ks_buf_printf(out, "%s\n", t);
                for (size_t k = 0; k < strlen(t); k++) {
                    ks_buf_putc(out, '-');
                }
                ks_buf_putc(out, '\n');
            }
        } else if (d.kind[i] == B_ITEM) {
            ks_buf_printf(out, "%s%s\n", f == KS_PROMISE_MARKDOWN ? "- " : "  - ", t);
        } else {
            ks_buf_printf(out, "%s\n", t);
        }
    }
    if (f == KS_PROMISE_HTML) {
        ks_buf_puts(out, "</body>\n</html>\n");
    }
    for (size_t i = 0; i < d.n; i++) {
        ks_buf_fini(&d.text[i]);
    }
}
