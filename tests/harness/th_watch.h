/*
 * Watching the broker while steady traffic runs (th_traffic.h): the
 * observer read without pause, so that a busy broker never waits for the
 * test and nothing piles up in the observer's backlog.
 */
#ifndef TH_WATCH_H
#define TH_WATCH_H

#include "th_traffic.h"

#define TH_WATCH_UPS   3
#define TH_WATCH_SNAPS 8
#define TH_WATCH_KEEP  4

/*
 * The observer read without pause: traffic uplinks go into their tallies
 * (by topic pattern), the daemons' metrics snapshots are kept (the latest
 * of each), messages on the `keep` patterns wait for th_watch_take(), and
 * everything else is dropped. The router's packet events go into
 * router_tally as they come. Fill in the public members, then pump.
 */
struct th_watch {
	struct th_mqtt *obs;
	const char *up_pattern[TH_WATCH_UPS]; /* e.g. "lorawan/+/up" */
	struct th_tally *up_tally[TH_WATCH_UPS];
	const char *keep[TH_WATCH_KEEP]; /* patterns kept for th_watch_take */
	struct th_router *router;        /* may be NULL */
	struct th_tally *router_tally;
	/* Private. */
	struct th_msg *kept_head, *kept_tail;
	char *snap_topic[TH_WATCH_SNAPS];
	char *snap[TH_WATCH_SNAPS];
};

/* Receives for ms (at least one receive). */
void th_watch_pump(struct th_watch *w, int ms);
/* The oldest kept message matching pattern, pumping up to timeout_ms;
 * NULL on timeout. */
struct th_msg *th_watch_take(struct th_watch *w, const char *pattern, int timeout_ms);
/* Kept messages matching pattern, dropped; returns how many. */
int th_watch_discard(struct th_watch *w, const char *pattern);
/* A series of lorafleet/<service>/<instance>/metrics as last seen (an
 * absent series is 0); false before any snapshot. A NULL label_value
 * means the series without labels, whatever label_key says. */
bool th_watch_metric(struct th_watch *w, const char *service, const char *instance,
                     const char *name, const char *label_key, const char *label_value, double *out);
/* Pumps until the series equals want: 0, or -1 with what it was on stderr. */
int th_watch_expect(struct th_watch *w, const char *service, const char *instance, const char *name,
                    const char *label_key, const char *label_value, double want, int timeout_ms);
/* Forgets the snapshots seen so far (the next one counts). */
void th_watch_forget_snapshots(struct th_watch *w);
void th_watch_free(struct th_watch *w);

#endif
