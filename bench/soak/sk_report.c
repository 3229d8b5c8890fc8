/* lorafleet-soak's report: each daemon's flatness, then every delivery. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "sk_run.h"

/* ---- the report --------------------------------------------------------- */

/* The measured window's samples of proc i, into t/rss/fds/cpu; their count. */
static size_t
window(const struct soak *k, size_t i, double *t, double *rss, long *fds, double *cpu)
{
	size_t n = 0;
	for (size_t s = 0; s < k->nsamples; s++) {
		const struct sample *x = &k->samples[s];
		if (x->phase == PH_MEASURE) {
			t[n] = x->t_s;
			rss[n] = x->rss[i];
			fds[n] = x->fds[i];
			cpu[n] = x->cpu[i];
			n++;
		}
	}
	return n;
}

static bool
report_flatness(const struct soak *k)
{
	const struct sk_bounds *b = &k->o.bounds;
	size_t n = k->nsamples;
	double *t = calloc(n + 1, sizeof(*t)), *rss = calloc(n + 1, sizeof(*rss));
	double *cpu = calloc(n + 1, sizeof(*cpu));
	long *fds = calloc(n + 1, sizeof(*fds));
	bool allocated = t != NULL && rss != NULL && cpu != NULL && fds != NULL;
	bool all_ok = allocated;
	size_t m = 0;
	for (size_t i = 0; allocated && i < k->nprocs; i++) {
		const struct proc *p = &k->procs[i];
		m = window(k, i, t, rss, fds, cpu);
		struct sk_flat f;
		if (sk_flat_judge(t, rss, fds, cpu, m, b, &f) != 0) {
			printf("%-10s only %zu samples in the measured window: cannot judge\n",
			       p->name, m);
			all_ok = all_ok && !p->judged;
			continue;
		}
		bool ok = f.rss_ok && f.fd_ok && f.cpu_ok;
		const char *verdict = !p->judged
		                              ? (ok ? "flat (reference)" : "NOT FLAT (reference)")
		                      : ok ? "FLAT"
		                           : "NOT FLAT";
		printf("%-10s %7.1f %7.1f %+7.2f %s %+8.2f %s %+8.2f  %5ld..%-5ld %s  %6.1f %6.1f "
		       "%s  "
		       "%s\n",
		       p->name, f.rss_first_mb, f.rss_last_mb, f.rss_growth_mb,
		       f.rss_growth_mb <= f.rss_growth_allowed_mb ? " " : "!", f.rss_slope_mb_h,
		       f.rss_slope_mb_h <= b->rss_slope_mb_h ? " " : "!", f.rss_slope2_mb_h,
		       f.fd_min, f.fd_max, f.fd_ok ? " " : "!", f.cpu_first, f.cpu_last,
		       f.cpu_ok ? " " : "!", verdict);
		if (p->judged && !ok) {
			all_ok = false;
		}
	}
	if (m > 0) {
		printf("(%zu samples of %ld s, t = %.0f..%.0f s; '!' marks a bound exceeded)\n", m,
		       k->o.interval_s, t[0], t[m - 1]);
		/* The same quarters for the rest of the host: how busy the
		 * machine's other tenants were when the CPU figures were taken. */
		size_t q = m / 4, n_other = 0;
		for (size_t s = 0; s < k->nsamples; s++) {
			if (k->samples[s].phase == PH_MEASURE) {
				cpu[n_other++] = k->samples[s].other;
			}
		}
		printf("the rest of the host (not these processes), median CPU: %.1f %% in the "
		       "first "
		       "quarter, %.1f %% in the last\n",
		       sk_median(cpu, q), sk_median(cpu + n_other - q, q));
	}
	free(t);
	free(rss);
	free(cpu);
	free(fds);
	return all_ok;
}

static bool
check(bool ok, const char *what)
{
	printf("  %-4s %s\n", ok ? "ok" : "FAIL", what);
	return ok;
}

static bool
report_delivery(struct soak *k)
{
	struct gwsim_counters gc;
	struct agb_sse_stats ss;
	struct agb_sse_totals st;
	struct sk_rest_stats rs;
	struct rlb_router_stats router;
	gwsim_counters(k->gw, &gc);
	agb_sse_phase_stats(k->sse, k->sse_phase, &ss);
	agb_sse_totals(k->sse, &st);
	sk_rest_stats(&k->rest, &rs);
	bool have_router = rlb_router_stats(k->router, &router) == 0;
	uint64_t sent = k->next_seq, rest_ok = 0, rest_failed = 0;
	for (int i = 0; i < SK_REST_KINDS; i++) {
		rest_ok += rs.ok[i];
		rest_failed += rs.failed[i];
	}
	char line[512];
	bool ok = true;
	printf("\ndelivery (exact counts):\n");
	snprintf(line, sizeof(line),
	         "uplinks: %" PRIu64 " sent (%" PRIu64 " prefill + %" PRIu64 " steady), %" PRIu64
	         " reached the router, %" PRIu64 " lost, %" PRIu64 " duplicates, %" PRIu64
	         " unknown; gateway -> router p50 %.1f ms, p99 %.1f ms, max %.0f ms",
	         sent, (uint64_t)k->o.prefill * (uint64_t)k->o.gateways,
	         sent - (uint64_t)k->o.prefill * (uint64_t)k->o.gateways, k->router_unique,
	         sent - k->router_unique, k->router_dups, k->router_stray,
	         (double)hist_quantile(k->lat, 0.5) / 1e6,
	         (double)hist_quantile(k->lat, 0.99) / 1e6, (double)k->lat->max_ns / 1e6);
	ok &= check(sent == k->total && k->router_unique == sent && k->router_stray == 0, line);
	snprintf(line, sizeof(line),
	         "SSE: %" PRIu64 " uplink events of %" PRIu64 ", %" PRIu64 " missed, %" PRIu64
	         " out of order, %" PRIu64 " overflows, %" PRIu64 " id gaps, %" PRIu64
	         " wrong mac; p99 %.1f ms; %" PRIu64 " other events, stream closed %" PRIu64 "x",
	         ss.delivered, sent, ss.missed, ss.backwards, ss.overflows, ss.id_gaps,
	         ss.wrong_mac, (double)ss.p99_ns / 1e6, st.other_events, st.closed);
	ok &= check(ss.delivered == sent && ss.missed == 0 && ss.backwards == 0 &&
	                    ss.overflows == 0 && ss.id_gaps == 0 && ss.wrong_mac == 0 &&
	                    st.closed == 0 && st.protocol_errors == 0,
	            line);
	snprintf(line, sizeof(line),
	         "bridge acks: %" PRIu64 " PUSH_ACK for %" PRIu64 " PUSH_DATA (%" PRIu64
	         " uplinks + %" PRIu64 " stat), %" PRIu64 " PULL_ACK for %" PRIu64
	         " PULL_DATA, %" PRIu64 " send errors, %" PRIu64 " unexpected datagrams",
	         gc.push_acks, gc.push_sent + gc.stat_sent, gc.push_sent, gc.stat_sent,
	         gc.pull_acks, gc.pull_sent, gc.send_errors, gc.other_rx);
	ok &= check(gc.push_acks == gc.push_sent + gc.stat_sent && gc.pull_acks == gc.pull_sent &&
	                    gc.send_errors == 0 && gc.other_rx == 0,
	            line);
	snprintf(line, sizeof(line),
	         "downlinks: %" PRIu64 " sent by the router, %" PRIu64
	         " reached their gateway (PULL_RESP), %" PRIu64 " TX_ACKed; %" PRIu64
	         " not sent (no live stream)",
	         k->downlinks, gc.pull_resps, gc.tx_acks, k->dl_refused);
	ok &= check(gc.pull_resps == k->downlinks && gc.tx_acks == gc.pull_resps, line);
	int len = snprintf(line, sizeof(line), "REST: %" PRIu64 " answered right, %" PRIu64 " not;",
	                   rest_ok, rest_failed);
	for (int i = 0; i < SK_REST_KINDS && len > 0 && (size_t)len < sizeof(line); i++) {
		len += snprintf(line + len, sizeof(line) - (size_t)len,
		                " %s %" PRIu64 " (max %.0f ms)%s",
		                sk_rest_kind_name((enum sk_rest_kind)i), rs.ok[i], rs.max_ms[i],
		                i + 1 < SK_REST_KINDS ? "," : "");
	}
	ok &= check(rest_failed == 0 && (rest_ok > 0 || k->o.rest_per_min == 0), line);
	if (have_router) {
		snprintf(line, sizeof(line),
		         "fake router: %" PRIu64 " streams live, %" PRIu64 " packets, %" PRIu64
		         " verify failures, %" PRIu64 " protocol errors",
		         router.streams_live, router.packets, router.verify_failures,
		         router.protocol_errors);
		ok &= check(router.streams_live == (uint64_t)k->o.gateways &&
		                    router.verify_failures == 0 && router.protocol_errors == 0,
		            line);
	}
	return ok && have_router;
}

bool
sk_report(struct soak *k)
{
	const struct options *o = &k->o;
	const struct sk_bounds *b = &o->bounds;
	printf("\nsoak: %ld gateways (one UDP socket each): PULL_DATA every %ld s, stat every %ld "
	       "s, "
	       "an uplink every %ld s each (%.0f/s), %ld downlinks/min, %ld REST requests/min, "
	       "1 SSE client\n",
	       o->gateways, o->pull_period_s, o->stat_period_s, o->uplink_period_s,
	       (double)o->gateways / (double)o->uplink_period_s, o->downlinks_per_min,
	       o->rest_per_min);
	printf("provisioning %.1f s; prefill %ld uplinks per gateway in %.1f s; steady run %ld s "
	       "(warm-up %ld s, then measured)\n",
	       k->provision_s, o->prefill, k->prefill_s, o->duration_s, o->warmup_s);
	printf("\nflatness over the measured window:\n");
	printf("%-10s %7s %7s %8s %9s   %8s  %12s   %6s %6s   %s\n", "", "RSS MB", "", "growth",
	       "slope", "(2nd", "fds", "CPU %", "", "verdict");
	printf("%-10s %7s %7s %8s %9s   %8s  %12s   %6s %6s\n", "", "first q", "last q", "MB",
	       "MB/h", "half)", "min..max", "first", "last");
	bool flat = report_flatness(k);
	printf("bounds: RSS slope <= %.2f MB/h and last-quarter mean <= first-quarter mean + "
	       "max(%.1f %%, %.1f MB); fds max - min <= %ld; CPU quarter medians within "
	       "max(%.0f %%, %.1f points)\n",
	       b->rss_slope_mb_h, b->rss_growth_pct, b->rss_growth_mb, b->fd_band,
	       b->cpu_change_pct, b->cpu_change_pts);
	bool delivered = report_delivery(k);
	printf("\nverdict: %s\n", flat && delivered ? "PASS (flat, nothing lost)"
	                          : flat            ? "FAIL (something was lost)"
	                          : delivered       ? "FAIL (not flat)"
	                                            : "FAIL (not flat, something was lost)");
	return flat && delivered;
}
