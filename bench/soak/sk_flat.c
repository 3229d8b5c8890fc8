/* Whether a daemon's samples are flat (soak.h says what that means). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "soak.h"

#define MB (1024.0 * 1024.0)

double
sk_slope(const double *t, const double *v, size_t n)
{
	if (n < 2) {
		return 0;
	}
	double mt = 0, mv = 0;
	for (size_t i = 0; i < n; i++) {
		mt += t[i];
		mv += v[i];
	}
	mt /= (double)n;
	mv /= (double)n;
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		num += (t[i] - mt) * (v[i] - mv);
		den += (t[i] - mt) * (t[i] - mt);
	}
	return den > 0 ? num / den : 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double
sk_median(const double *v, size_t n)
{
	if (n == 0) {
		return 0;
	}
	double *s = malloc(n * sizeof(*s));
	if (s == NULL) {
		return NAN;
	}
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	double m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return m;
}

static double
mean(const double *v, size_t n)
{
	double sum = 0;
	for (size_t i = 0; i < n; i++) {
		sum += v[i];
	}
	return n > 0 ? sum / (double)n : 0;
}

static double
max2(double a, double b)
{
	return a > b ? a : b;
}

int
sk_flat_judge(const double *t, const double *rss, const long *fds, const double *cpu, size_t n,
              const struct sk_bounds *b, struct sk_flat *out)
{
	memset(out, 0, sizeof(*out));
	if (n < 8) {
		return -1;
	}
	size_t q = n / 4;
	out->n = n;

	out->rss_first_mb = mean(rss, q) / MB;
	out->rss_last_mb = mean(rss + n - q, q) / MB;
	out->rss_growth_mb = out->rss_last_mb - out->rss_first_mb;
	out->rss_growth_allowed_mb =
	        max2(out->rss_first_mb * b->rss_growth_pct / 100, b->rss_growth_mb);
	/* bytes per second -> MB per hour */
	out->rss_slope_mb_h = sk_slope(t, rss, n) * 3600 / MB;
	out->rss_slope2_mb_h = sk_slope(t + n / 2, rss + n / 2, n - n / 2) * 3600 / MB;
	out->rss_ok = out->rss_slope_mb_h <= b->rss_slope_mb_h &&
	              out->rss_growth_mb <= out->rss_growth_allowed_mb;

	out->fd_min = out->fd_max = fds[0];
	for (size_t i = 1; i < n; i++) {
		out->fd_min = fds[i] < out->fd_min ? fds[i] : out->fd_min;
		out->fd_max = fds[i] > out->fd_max ? fds[i] : out->fd_max;
	}
	out->fd_ok = out->fd_min >= 0 && out->fd_max - out->fd_min <= b->fd_band;

	out->cpu_first = sk_median(cpu, q);
	out->cpu_last = sk_median(cpu + n - q, q);
	out->cpu_change_allowed = max2(out->cpu_first * b->cpu_change_pct / 100, b->cpu_change_pts);
	out->cpu_ok = fabs(out->cpu_last - out->cpu_first) <= out->cpu_change_allowed;
	return 0;
}
