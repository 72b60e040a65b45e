/*
 * Tests of the quantity parser and formatters (placement/place_quantity.c):
 * every suffix, fractions and rounding up, exponents, zero, each class of
 * error with its message, the INT64 boundaries of milli-units, and the cpu
 * and byte formatters people read in reasons.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>

#include "placement/place.h"
#include "tests/test_util.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */
/* ------------------------------------------------------------------------ */

/* True when s parses to exactly want; prints what happened when not. */
static bool parses_to(const char *s, int64_t want)
{
    sp_err err;
    int64_t got = -1;
    sp_rc rc;

    sp_err_clear(&err);
    rc = place_quantity_parse(s, &got, &err);
    if (rc == SP_OK && got == want)
        return true;
    fprintf(stderr, "\n  \"%s\": want %" PRId64 ", got rc %d (%s) value %" PRId64 "\n",
            s, want, (int)rc, err.msg, got);
    return false;
}

/* True when s fails with want_rc, leaving the value 0 and a message. */
static bool fails_with(const char *s, sp_rc want_rc)
{
    sp_err err;
    int64_t got = -1;
    sp_rc rc;

    sp_err_clear(&err);
    rc = place_quantity_parse(s, &got, &err);
    if (rc == want_rc && err.rc == want_rc && got == 0 && err.msg[0])
        return true;
    fprintf(stderr, "\n  \"%s\": want rc %d, got rc %d value %" PRId64 " msg \"%s\"\n",
            s ? s : "(null)", (int)want_rc, (int)rc, got, err.msg);
    return false;
}

/* The message place_quantity_parse gives for s (static buffer). */
static const char *message_for(const char *s)
{
    static sp_err err;
    int64_t got;

    sp_err_clear(&err);
    if (place_quantity_parse(s, &got, &err) == SP_OK)
        return "(parsed)";
    return err.msg;
}

#define EXPECT(s, want) CU_ASSERT_TRUE(parses_to((s), (want)))
#define EXPECT_FAIL(s, rc) CU_ASSERT_TRUE(fails_with((s), (rc)))

#define HINT                                                                 \
    "use a number with an optional suffix (m, k, M, G, Ki, Mi, Gi, ...) or " \
    "exponent (2e3)"

/* ------------------------------------------------------------------------ */
/* Plain numbers and fractions                                                */
/* ------------------------------------------------------------------------ */

static void t_plain_integers(void)
{
    EXPECT("1", 1000);
    EXPECT("2", 2000);
    EXPECT("42", 42000);
    EXPECT("+5", 5000);
    EXPECT("007", 7000);
    EXPECT("000000000000000000000000000001", 1000);
}

static void t_zero(void)
{
    EXPECT("0", 0);
    EXPECT("0.0", 0);
    EXPECT("000", 0);
    EXPECT("0m", 0);
    EXPECT("0Ei", 0);
    EXPECT("0E", 0);
    EXPECT("0e999999999999999999999999", 0);
    EXPECT("-0", 0);
    EXPECT("+0.000", 0);
}

static void t_fractions(void)
{
    EXPECT("1.5", 1500);
    EXPECT(".5", 500);
    EXPECT("5.", 5000);
    EXPECT("0.1", 100);
    EXPECT("0.001", 1);
    EXPECT("1.000", 1000);
    EXPECT("2.250", 2250);
    EXPECT("1.50000000000000000000000000000000", 1500);
}

static void t_rounds_up(void)
{
    EXPECT("0.0001", 1);
    EXPECT("0.0009", 1);
    EXPECT("0.0011", 2);
    EXPECT("1.0001", 1001);
    EXPECT("0.000000000000000000001", 1);
    EXPECT("0.1m", 1);
    EXPECT("1.000000000000000000000000000000000000000001", 1001);
}

/* ------------------------------------------------------------------------ */
/* Suffixes                                                                   */
/* ------------------------------------------------------------------------ */

static void t_suffix_milli(void)
{
    EXPECT("100m", 100);
    EXPECT("500m", 500);
    EXPECT("1500m", 1500);
    EXPECT("1m", 1);
    EXPECT("1.5m", 2);
}

static void t_suffix_nano_micro(void)
{
    EXPECT("1n", 1);
    EXPECT("1000000n", 1);
    EXPECT("1000001n", 2);
    EXPECT("2000000n", 2);
    EXPECT("1u", 1);
    EXPECT("1000u", 1);
    EXPECT("1500u", 2);
    EXPECT("250000u", 250);
}

static void t_suffix_decimal_si(void)
{
    EXPECT("1k", INT64_C(1000000));
    EXPECT("1M", INT64_C(1000000000));
    EXPECT("1G", INT64_C(1000000000000));
    EXPECT("1T", INT64_C(1000000000000000));
    EXPECT("1P", INT64_C(1000000000000000000));
    EXPECT("0.001E", INT64_C(1000000000000000000));
    EXPECT("1.5k", INT64_C(1500000));
    EXPECT("2.5G", INT64_C(2500000000000));
}

static void t_suffix_binary(void)
{
    EXPECT("1Ki", INT64_C(1024000));
    EXPECT("1Mi", INT64_C(1048576000));
    EXPECT("128Mi", INT64_C(134217728000));
    EXPECT("1Gi", INT64_C(1073741824000));
    EXPECT("1Ti", INT64_C(1099511627776000));
    EXPECT("1Pi", INT64_C(1125899906842624000));
    EXPECT("0.001Ei", INT64_C(1152921504606846976));
}

static void t_binary_fractions(void)
{
    EXPECT("0.5Ki", INT64_C(512000));
    EXPECT("0.1Ki", INT64_C(102400));
    EXPECT("1.5Gi", INT64_C(1610612736000));
    /* 1.0001 x 1024 = 1024.1024 units = 1024102.4 milli: rounded up */
    EXPECT("1.0001Ki", INT64_C(1024103));
    /* 2^-20 Mi = 1 unit exactly; one digit more is a remainder */
    EXPECT("0.00000095367431640625Mi", 1000);
    EXPECT("0.000000953674316406251Mi", 1001);
}

/* ------------------------------------------------------------------------ */
/* Exponents                                                                  */
/* ------------------------------------------------------------------------ */

static void t_exponent_positive(void)
{
    EXPECT("2e3", INT64_C(2000000));
    EXPECT("2E3", INT64_C(2000000));
    EXPECT("1e+3", INT64_C(1000000));
    EXPECT("1.5e3", INT64_C(1500000));
    EXPECT("1e0", 1000);
    EXPECT("1e15", INT64_C(1000000000000000000));
    EXPECT("1e0000000000000000000000000000003", INT64_C(1000000));
}

static void t_exponent_negative(void)
{
    EXPECT("1E-3", 1);
    EXPECT("1e-3", 1);
    EXPECT("5e-1", 500);
    EXPECT("1e-4", 1);
    EXPECT("15e-4", 2);
    EXPECT("1e-999999999999999999999999", 1);
}

/* ------------------------------------------------------------------------ */
/* Boundaries                                                                 */
/* ------------------------------------------------------------------------ */

static void t_max_fits(void)
{
    EXPECT("9223372036854775807m", INT64_MAX);
    EXPECT("9223372036854775.807", INT64_MAX);
    EXPECT("9.223372036854775807e15", INT64_MAX);
    EXPECT("9223372036854775.8069", INT64_MAX);   /* rounds up to the max */
    EXPECT("9P", INT64_C(9000000000000000000));
    EXPECT("8Pi", INT64_C(9007199254740992000));
}

static void t_overflow(void)
{
    EXPECT_FAIL("9223372036854775808m", SP_ELIMIT);
    EXPECT_FAIL("9223372036854775.808", SP_ELIMIT);
    EXPECT_FAIL("9223372036854775.8071", SP_ELIMIT); /* the rounding overflows */
    EXPECT_FAIL("9223372036854776", SP_ELIMIT);
    EXPECT_FAIL("123456789012345678901234", SP_ELIMIT);
    EXPECT_FAIL("10P", SP_ELIMIT);
    EXPECT_FAIL("1E", SP_ELIMIT);
    EXPECT_FAIL("9Pi", SP_ELIMIT);
    EXPECT_FAIL("1Ei", SP_ELIMIT);
    EXPECT_FAIL("1e16", SP_ELIMIT);
    EXPECT_FAIL("1e999999999999999999999", SP_ELIMIT);
    EXPECT_FAIL("0.000000000000000000001e999999999", SP_ELIMIT);
}

static void t_overflow_message(void)
{
    SP_ASSERT_STR(message_for("1e16"),
                  "quantity \"1e16\" is too large: the limit is "
                  "9223372036854775807m (about 9.2e15 whole units); use a "
                  "smaller value");
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                     */
/* ------------------------------------------------------------------------ */

static void t_empty(void)
{
    EXPECT_FAIL("", SP_EPARSE);
    EXPECT_FAIL(NULL, SP_EPARSE);
    SP_ASSERT_STR(message_for(""), "quantity is empty: " HINT);
}

static void t_whitespace(void)
{
    EXPECT_FAIL(" 1", SP_EPARSE);
    EXPECT_FAIL("1 ", SP_EPARSE);
    EXPECT_FAIL("1 Mi", SP_EPARSE);
    EXPECT_FAIL("1\t", SP_EPARSE);
    EXPECT_FAIL("1\n", SP_EPARSE);
    SP_ASSERT_STR(message_for("128 Mi"),
                  "quantity \"128 Mi\" contains white space: remove it "
                  "(\"128Mi\", not \"128 Mi\")");
}

static void t_unknown_suffix(void)
{
    EXPECT_FAIL("1KB", SP_EPARSE);
    EXPECT_FAIL("1kb", SP_EPARSE);
    EXPECT_FAIL("1K", SP_EPARSE);
    EXPECT_FAIL("1mi", SP_EPARSE);
    EXPECT_FAIL("1MI", SP_EPARSE);
    EXPECT_FAIL("1Kii", SP_EPARSE);
    EXPECT_FAIL("1Mim", SP_EPARSE);
    EXPECT_FAIL("1mm", SP_EPARSE);
    EXPECT_FAIL("1i", SP_EPARSE);
    SP_ASSERT_STR(message_for("1KB"), "quantity \"1KB\" is malformed: " HINT);
    SP_ASSERT_STR(message_for("1K"),
                  "quantity \"1K\" is malformed: the suffix for 1000 is "
                  "lowercase \"k\" (and \"Ki\" for 1024)");
}

static void t_garbage(void)
{
    EXPECT_FAIL("abc", SP_EPARSE);
    EXPECT_FAIL("0x10", SP_EPARSE);
    EXPECT_FAIL("1,5", SP_EPARSE);
    EXPECT_FAIL("1_000", SP_EPARSE);
    EXPECT_FAIL("--1", SP_EPARSE);
    EXPECT_FAIL("+-1", SP_EPARSE);
    EXPECT_FAIL("1-", SP_EPARSE);
    EXPECT_FAIL("1Mi2", SP_EPARSE);
    SP_ASSERT_STR(message_for("abc"), "quantity \"abc\" is malformed: " HINT);
}

static void t_no_digits(void)
{
    EXPECT_FAIL(".", SP_EPARSE);
    EXPECT_FAIL("+", SP_EPARSE);
    EXPECT_FAIL("-", SP_EPARSE);
    EXPECT_FAIL("m", SP_EPARSE);
    EXPECT_FAIL("Mi", SP_EPARSE);
    EXPECT_FAIL(".Mi", SP_EPARSE);
    EXPECT_FAIL("e3", SP_EPARSE);
}

static void t_dots(void)
{
    EXPECT_FAIL("1..5", SP_EPARSE);
    EXPECT_FAIL("1.2.3", SP_EPARSE);
    EXPECT_FAIL("..5", SP_EPARSE);
    EXPECT_FAIL("1.5.", SP_EPARSE);
    EXPECT_FAIL("1Mi.5", SP_EPARSE);
}

static void t_bad_exponent(void)
{
    EXPECT_FAIL("1e", SP_EPARSE);
    EXPECT_FAIL("1e+", SP_EPARSE);
    EXPECT_FAIL("1e-", SP_EPARSE);
    EXPECT_FAIL("1e3.5", SP_EPARSE);
    EXPECT_FAIL("1e3m", SP_EPARSE);
    EXPECT_FAIL("1e--3", SP_EPARSE);
    EXPECT_FAIL("1ee3", SP_EPARSE);
    EXPECT_FAIL("1Ei3", SP_EPARSE);
}

static void t_negative(void)
{
    EXPECT_FAIL("-1", SP_ELIMIT);
    EXPECT_FAIL("-0.001", SP_ELIMIT);
    EXPECT_FAIL("-1Mi", SP_ELIMIT);
    EXPECT_FAIL("-1e-30", SP_ELIMIT);
    EXPECT_FAIL("-1e999999999999", SP_ELIMIT);
    SP_ASSERT_STR(message_for("-500m"),
                  "quantity \"-500m\" is negative: quantities must not be "
                  "negative; use 0 or more");
}

static void t_long_value_quoted_short(void)
{
    char text[200];
    char want[300];

    memset(text, 'x', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    CU_ASSERT_TRUE(snprintf(want, sizeof(want), "quantity \"%.64s...\" is malformed: %s",
                            text, HINT) > 0);
    SP_ASSERT_STR(message_for(text), want);
}

static void t_err_may_be_null(void)
{
    int64_t v = -1;

    CU_ASSERT_EQUAL(place_quantity_parse("1KB", &v, NULL), SP_EPARSE);
    CU_ASSERT_EQUAL(v, 0);
    CU_ASSERT_EQUAL(place_quantity_parse("250m", &v, NULL), SP_OK);
    CU_ASSERT_EQUAL(v, 250);
}

/* ------------------------------------------------------------------------ */
/* Units and formatters                                                       */
/* ------------------------------------------------------------------------ */

static void t_milli_to_units(void)
{
    CU_ASSERT_EQUAL(place_milli_to_units(0), 0);
    CU_ASSERT_EQUAL(place_milli_to_units(1), 1);
    CU_ASSERT_EQUAL(place_milli_to_units(999), 1);
    CU_ASSERT_EQUAL(place_milli_to_units(1000), 1);
    CU_ASSERT_EQUAL(place_milli_to_units(1001), 2);
    CU_ASSERT_EQUAL(place_milli_to_units(INT64_C(134217728000)), INT64_C(134217728));
    CU_ASSERT_EQUAL(place_milli_to_units(INT64_MAX), INT64_C(9223372036854776));
}

static const char *cpu(int64_t milli)
{
    static char buf[32];

    place_format_cpu(milli, buf, sizeof(buf));
    return buf;
}

static const char *bytes(int64_t b)
{
    static char buf[32];

    place_format_bytes(b, buf, sizeof(buf));
    return buf;
}

static void t_format_cpu(void)
{
    SP_ASSERT_STR(cpu(0), "0");
    SP_ASSERT_STR(cpu(1), "1m");
    SP_ASSERT_STR(cpu(500), "500m");
    SP_ASSERT_STR(cpu(1000), "1");
    SP_ASSERT_STR(cpu(1500), "1500m");
    SP_ASSERT_STR(cpu(2000), "2");
    SP_ASSERT_STR(cpu(64000), "64");
    SP_ASSERT_STR(cpu(INT64_MAX), "9223372036854775807m");
}

static void t_format_bytes_plain(void)
{
    SP_ASSERT_STR(bytes(0), "0");
    SP_ASSERT_STR(bytes(1), "1");
    SP_ASSERT_STR(bytes(1000), "1000");
    SP_ASSERT_STR(bytes(1023), "1023");
    SP_ASSERT_STR(bytes(-5), "-5");
}

static void t_format_bytes_exact(void)
{
    SP_ASSERT_STR(bytes(1024), "1Ki");
    SP_ASSERT_STR(bytes(INT64_C(512) << 20), "512Mi");
    SP_ASSERT_STR(bytes(INT64_C(8) << 30), "8Gi");
    SP_ASSERT_STR(bytes(INT64_C(1023) << 20), "1023Mi");
    SP_ASSERT_STR(bytes(INT64_C(3) << 40), "3Ti");
    SP_ASSERT_STR(bytes(INT64_C(1) << 50), "1Pi");
    SP_ASSERT_STR(bytes(INT64_C(1) << 60), "1Ei");
}

static void t_format_bytes_one_decimal(void)
{
    SP_ASSERT_STR(bytes(1536), "1.5Ki");
    SP_ASSERT_STR(bytes(INT64_C(1610612736)), "1.5Gi");
    SP_ASSERT_STR(bytes(INT64_C(1536) << 20), "1.5Gi");
    SP_ASSERT_STR(bytes(2047), "1.9Ki");                    /* truncated */
    SP_ASSERT_STR(bytes((INT64_C(1) << 30) + 1), "1.0Gi");
    SP_ASSERT_STR(bytes(INT64_C(16372968) * 1024), "15.6Gi");
    SP_ASSERT_STR(bytes(INT64_MAX), "7.9Ei");
}

static void t_format_small_buffer(void)
{
    char buf[4] = "zzz";

    place_format_cpu(1500, buf, sizeof(buf));
    SP_ASSERT_STR(buf, "");
    memcpy(buf, "zzz", 4);
    place_format_bytes(INT64_C(512) << 20, buf, sizeof(buf));
    SP_ASSERT_STR(buf, "");
    memcpy(buf, "zzz", 4);
    place_format_cpu(2000, buf, sizeof(buf));
    SP_ASSERT_STR(buf, "2");
    place_format_bytes(1024, buf, sizeof(buf));
    SP_ASSERT_STR(buf, "1Ki");
    place_format_cpu(2000, buf, 0);           /* len 0: nothing written */
    SP_ASSERT_STR(buf, "1Ki");
}

static void t_format_round_trip(void)
{
    int64_t v = 0;
    static const int64_t values[] = { 1024, INT64_C(512) << 20, INT64_C(8) << 30,
                                      INT64_C(3) << 40 };

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        CU_ASSERT_EQUAL(place_quantity_parse(bytes(values[i]), &v, NULL), SP_OK);
        CU_ASSERT_EQUAL(place_milli_to_units(v), values[i]);
    }
    CU_ASSERT_EQUAL(place_quantity_parse(cpu(1500), &v, NULL), SP_OK);
    CU_ASSERT_EQUAL(v, 1500);
    CU_ASSERT_EQUAL(place_quantity_parse(cpu(7000), &v, NULL), SP_OK);
    CU_ASSERT_EQUAL(v, 7000);
}

static const sp_test tests[] = {
    SP_TEST(t_plain_integers),
    SP_TEST(t_zero),
    SP_TEST(t_fractions),
    SP_TEST(t_rounds_up),
    SP_TEST(t_suffix_milli),
    SP_TEST(t_suffix_nano_micro),
    SP_TEST(t_suffix_decimal_si),
    SP_TEST(t_suffix_binary),
    SP_TEST(t_binary_fractions),
    SP_TEST(t_exponent_positive),
    SP_TEST(t_exponent_negative),
    SP_TEST(t_max_fits),
    SP_TEST(t_overflow),
    SP_TEST(t_overflow_message),
    SP_TEST(t_empty),
    SP_TEST(t_whitespace),
    SP_TEST(t_unknown_suffix),
    SP_TEST(t_garbage),
    SP_TEST(t_no_digits),
    SP_TEST(t_dots),
    SP_TEST(t_bad_exponent),
    SP_TEST(t_negative),
    SP_TEST(t_long_value_quoted_short),
    SP_TEST(t_err_may_be_null),
    SP_TEST(t_milli_to_units),
    SP_TEST(t_format_cpu),
    SP_TEST(t_format_bytes_plain),
    SP_TEST(t_format_bytes_exact),
    SP_TEST(t_format_bytes_one_decimal),
    SP_TEST(t_format_small_buffer),
    SP_TEST(t_format_round_trip),
    SP_TEST_END,
};

int main(void)
{
    return sp_test_run("test_quantity", tests);
}
