/*
 * t.h - the tiny unit-test harness: each tests/unit/test_*.c is one program
 * whose tests are functions named as facts. It prints one line per failed
 * check and finishes with "RESULT passed=N failed=M", which the Makefile
 * adds up into the closing "N passed, N failed" line.
 */
#ifndef KS_T_H
#define KS_T_H

#include <stdio.h>
#include <string.h>

static int t_failed_checks, t_passed, t_failed;
static const char *t_current;

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "FAIL %s: %s:%d: %s\n", t_current, __FILE__, __LINE__, #c);           \
            t_failed_checks++;                                                                     \
        }                                                                                          \
    } while (0)

#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long t_a_ = (long long)(a), t_b_ = (long long)(b);                                    \
        if (t_a_ != t_b_) {                                                                        \
            fprintf(stderr, "FAIL %s: %s:%d: %s == %lld, expected %lld\n", t_current, __FILE__,   \
                    __LINE__, #a, t_a_, t_b_);                                                     \
            t_failed_checks++;                                                                     \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *t_a_ = (a), *t_b_ = (b);                                                       \
        if (!t_a_ || !t_b_ || strcmp(t_a_, t_b_) != 0) {                                           \
            fprintf(stderr, "FAIL %s: %s:%d: %s == \"%s\", expected \"%s\"\n", t_current,         \
                    __FILE__, __LINE__, #a, t_a_ ? t_a_ : "(null)", t_b_ ? t_b_ : "(null)");       \
            t_failed_checks++;                                                                     \
        }                                                                                          \
    } while (0)

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        int t_before_ = t_failed_checks;                                                           \
        t_current = #fn;                                                                           \
        fn();                                                                                      \
        if (t_failed_checks == t_before_) {                                                        \
            t_passed++;                                                                            \
        } else {                                                                                   \
            t_failed++;                                                                            \
        }                                                                                          \
    } while (0)

static inline int t_done(void)
{
    printf("RESULT passed=%d failed=%d\n", t_passed, t_failed);
    return t_failed ? 1 : 0;
}

#endif
