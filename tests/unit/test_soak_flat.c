/* The soak's flatness verdict (bench/soak/sk_flat.c) on made-up series:
 * flat ones pass, and each way of not being flat fails on its own bound. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "soak.h"

#define N  100
#define MB (1024.0 * 1024.0)

static const struct sk_bounds BOUNDS = {.rss_slope_mb_h = 2,
                                        .rss_growth_pct = 2,
                                        .rss_growth_mb = 1,
                                        .fd_band = 2,
                                        .cpu_change_pct = 25,
                                        .cpu_change_pts = 2};

struct series {
	double t[N], rss[N], cpu[N];
	long fds[N];
};

/* 100 samples 10 s apart: 50 MB with +-0.5 MB of zigzag, 40 fds, 10 % CPU. */
static void
flat(struct series *s)
{
	for (int i = 0; i < N; i++) {
		s->t[i] = 300 + 10.0 * i;
		s->rss[i] = 50 * MB + (i % 2 ? 0.5 : -0.5) * MB;
		s->fds[i] = 40;
		s->cpu[i] = 10 + (i % 3) * 0.5;
	}
}

static struct sk_flat
judge(const struct series *s)
{
	struct sk_flat f;
	assert_int_equal(sk_flat_judge(s->t, s->rss, s->fds, s->cpu, N, &BOUNDS, &f), 0);
	return f;
}

static void
test_flat_series_pass(void **state)
{
	(void)state;
	struct series s;
	flat(&s);
	struct sk_flat f = judge(&s);
	assert_true(f.rss_ok && f.fd_ok && f.cpu_ok);
	assert_int_equal(f.n, N);
	assert_true(fabs(f.rss_first_mb - 50) < 0.1 && fabs(f.rss_last_mb - 50) < 0.1);
	assert_true(fabs(f.rss_slope_mb_h) < 0.2); /* the zigzag alone: 0.11 MB/h */
	assert_int_equal(f.fd_min, 40);
	assert_int_equal(f.fd_max, 40);
}

static void
test_slow_leak_fails_on_the_slope(void **state)
{
	(void)state;
	struct series s;
	flat(&s);
	/* 3 MB/h over the 990 s: 0.8 MB, under the 1 MB growth allowance. */
	for (int i = 0; i < N; i++) {
		s.rss[i] += (s.t[i] - s.t[0]) * 3 / 3600 * MB;
	}
	struct sk_flat f = judge(&s);
	assert_false(f.rss_ok);
	assert_true(fabs(f.rss_slope_mb_h - 3) < 0.2);
	assert_true(fabs(f.rss_slope2_mb_h - 3) < 0.5); /* a leak: as steep later on */
	assert_true(f.rss_growth_mb < f.rss_growth_allowed_mb);
	assert_true(f.fd_ok && f.cpu_ok);
}

static void
test_step_up_fails_on_the_growth(void **state)
{
	(void)state;
	struct series s;
	flat(&s);
	/* A jump in the last tenth: little slope, but the last quarter is up. */
	for (int i = 90; i < N; i++) {
		s.rss[i] += 8 * MB;
	}
	struct sk_flat f = judge(&s);
	assert_false(f.rss_ok);
	assert_true(f.rss_growth_mb > 1.5);
}

static void
test_settling_shows_in_the_second_half_slope(void **state)
{
	(void)state;
	struct series s;
	flat(&s);
	/* +1.5 MB over the first fifth, then nothing: a high-water mark. */
	for (int i = 0; i < N; i++) {
		s.rss[i] += (i < 20 ? i : 20) * 0.075 * MB;
	}
	struct sk_flat f = judge(&s);
	assert_false(f.rss_ok); /* the whole window's slope still counts */
	assert_true(f.rss_slope_mb_h > 2);
	assert_true(fabs(f.rss_slope2_mb_h) < 0.5);
}

static void
test_shrinking_rss_is_flat(void **state)
{
	(void)state;
	struct series s;
	flat(&s);
	for (int i = 0; i < N; i++) {
		s.rss[i] -= i * 0.1 * MB;
	}
	assert_true(judge(&s).rss_ok);
}

static void
test_fds_within_the_band_pass_and_past_it_fail(void **state)
{
	(void)state;
	struct series s;
	flat(&s);
	s.fds[10] = 42;
	assert_true(judge(&s).fd_ok);
	s.fds[50] = 39; /* 39..42: a band of 3 */
	struct sk_flat f = judge(&s);
	assert_false(f.fd_ok);
	assert_int_equal(f.fd_min, 39);
	assert_int_equal(f.fd_max, 42);
}

static void
test_cpu_creeping_up_fails_and_one_busy_interval_does_not(void **state)
{
	(void)state;
	struct series s;
	flat(&s);
	s.cpu[N - 1] = 90; /* one interval when the machine was busy: a median ignores it */
	assert_true(judge(&s).cpu_ok);
	for (int i = 0; i < N; i++) {
		s.cpu[i] = 10 + i * 0.1; /* 10 % -> 20 % */
	}
	struct sk_flat f = judge(&s);
	assert_false(f.cpu_ok);
	assert_true(f.cpu_last - f.cpu_first > 5);
}

static void
test_too_few_samples_cannot_be_judged(void **state)
{
	(void)state;
	struct series s;
	flat(&s);
	struct sk_flat f;
	assert_int_equal(sk_flat_judge(s.t, s.rss, s.fds, s.cpu, 7, &BOUNDS, &f), -1);
	assert_int_equal(sk_flat_judge(s.t, s.rss, s.fds, s.cpu, 8, &BOUNDS, &f), 0);
}

static void
test_slope_and_median(void **state)
{
	(void)state;
	const double t[] = {0, 1, 2, 3}, v[] = {1, 3, 5, 7};
	assert_true(fabs(sk_slope(t, v, 4) - 2) < 1e-12);
	assert_true(sk_slope(t, v, 1) == 0);
	const double odd[] = {5, 1, 3}, even[] = {4, 1, 3, 2};
	assert_true(sk_median(odd, 3) == 3);
	assert_true(sk_median(even, 4) == 2.5);
	assert_true(sk_median(odd, 0) == 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_flat_series_pass),
	        cmocka_unit_test(test_slow_leak_fails_on_the_slope),
	        cmocka_unit_test(test_step_up_fails_on_the_growth),
	        cmocka_unit_test(test_settling_shows_in_the_second_half_slope),
	        cmocka_unit_test(test_shrinking_rss_is_flat),
	        cmocka_unit_test(test_fds_within_the_band_pass_and_past_it_fail),
	        cmocka_unit_test(test_cpu_creeping_up_fails_and_one_busy_interval_does_not),
	        cmocka_unit_test(test_too_few_samples_cannot_be_judged),
	        cmocka_unit_test(test_slope_and_median),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
