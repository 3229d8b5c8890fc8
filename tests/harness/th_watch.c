/* The observer read without pause while the traffic runs. */
#include "th_watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
keep_snapshot(struct th_watch *w, const struct th_msg *msg)
{
	for (size_t i = 0; i < TH_WATCH_SNAPS; i++) {
		if (w->snap_topic[i] == NULL || strcmp(w->snap_topic[i], msg->topic) == 0) {
			if (w->snap_topic[i] == NULL) {
				w->snap_topic[i] = strdup(msg->topic);
			}
			free(w->snap[i]);
			w->snap[i] = strdup(msg->payload);
			return;
		}
	}
}

/* Takes one received message: true when it was kept (not to be freed). */
static bool
watch_dispatch(struct th_watch *w, struct th_msg *msg)
{
	for (int i = 0; i < TH_WATCH_UPS && w->up_pattern[i] != NULL; i++) {
		if (th_topic_matches(w->up_pattern[i], msg->topic) &&
		    strstr(msg->payload, "\"seq\":") != NULL) {
			th_tally_up_payload(w->up_tally[i], msg->payload);
			return false;
		}
	}
	if (th_topic_matches("lorafleet/+/+/metrics", msg->topic)) {
		keep_snapshot(w, msg);
		return false;
	}
	for (int i = 0; i < TH_WATCH_KEEP && w->keep[i] != NULL; i++) {
		if (th_topic_matches(w->keep[i], msg->topic)) {
			msg->next = NULL;
			if (w->kept_tail != NULL) {
				w->kept_tail->next = msg;
			} else {
				w->kept_head = msg;
			}
			w->kept_tail = msg;
			return true;
		}
	}
	return false;
}

void
th_watch_pump(struct th_watch *w, int ms)
{
	int64_t deadline = lf_now_ms() + ms;
	for (;;) {
		int64_t left = deadline - lf_now_ms();
		struct th_msg *msg = th_mqtt_wait(w->obs, "#",
		                                  (int)(left < 1     ? 1
		                                        : left < 200 ? left
		                                                     : 200));
		if (msg == NULL && w->router != NULL) {
			th_tally_router_events(w->router_tally, w->router);
		}
		if (msg != NULL && !watch_dispatch(w, msg)) {
			th_msg_free(msg);
		}
		if (lf_now_ms() >= deadline) {
			break;
		}
	}
	if (w->router != NULL) {
		th_tally_router_events(w->router_tally, w->router);
	}
}

static struct th_msg *
take_kept(struct th_watch *w, const char *pattern)
{
	struct th_msg *prev = NULL;
	for (struct th_msg *it = w->kept_head; it != NULL; prev = it, it = it->next) {
		if (th_topic_matches(pattern, it->topic)) {
			if (prev != NULL) {
				prev->next = it->next;
			} else {
				w->kept_head = it->next;
			}
			if (w->kept_tail == it) {
				w->kept_tail = prev;
			}
			it->next = NULL;
			return it;
		}
	}
	return NULL;
}

struct th_msg *
th_watch_take(struct th_watch *w, const char *pattern, int timeout_ms)
{
	int64_t deadline = lf_now_ms() + th_timeout_ms(timeout_ms);
	for (;;) {
		struct th_msg *msg = take_kept(w, pattern);
		if (msg != NULL || lf_now_ms() >= deadline) {
			return msg;
		}
		th_watch_pump(w, 50);
	}
}

int
th_watch_discard(struct th_watch *w, const char *pattern)
{
	int n = 0;
	struct th_msg *msg;
	while ((msg = take_kept(w, pattern)) != NULL) {
		th_msg_free(msg);
		n++;
	}
	return n;
}

bool
th_watch_metric(struct th_watch *w, const char *service, const char *instance, const char *name,
                const char *label_key, const char *label_value, double *out)
{
	char topic[160];
	snprintf(topic, sizeof(topic), "lorafleet/%s/%s/metrics", service, instance);
	if (label_value == NULL) {
		label_key = NULL;
	}
	for (size_t i = 0; i < TH_WATCH_SNAPS; i++) {
		if (w->snap_topic[i] != NULL && w->snap[i] != NULL &&
		    strcmp(w->snap_topic[i], topic) == 0) {
			cJSON *root = cJSON_Parse(w->snap[i]);
			*out = 0;
			th_metric_value(root, name, label_key, label_value, out);
			cJSON_Delete(root);
			return root != NULL;
		}
	}
	return false;
}

int
th_watch_expect(struct th_watch *w, const char *service, const char *instance, const char *name,
                const char *label_key, const char *label_value, double want, int timeout_ms)
{
	int64_t deadline = lf_now_ms() + th_timeout_ms(timeout_ms);
	double v = -1;
	bool have = false;
	for (;;) {
		have = th_watch_metric(w, service, instance, name, label_key, label_value, &v);
		if (have && v == want) {
			return 0;
		}
		if (lf_now_ms() >= deadline) {
			break;
		}
		th_watch_pump(w, 200);
	}
	bool labelled = label_key != NULL && label_value != NULL;
	fprintf(stderr, "harness: %s %s: %s%s%s%s%s%s = %g, expected %g\n", service, instance, name,
	        labelled ? "{" : "", labelled ? label_key : "", labelled ? "=" : "",
	        labelled && label_value != NULL ? label_value : "", labelled ? "}" : "",
	        have ? v : -1.0, want);
	return -1;
}

void
th_watch_forget_snapshots(struct th_watch *w)
{
	for (size_t i = 0; i < TH_WATCH_SNAPS; i++) {
		free(w->snap[i]);
		w->snap[i] = NULL;
	}
}

void
th_watch_free(struct th_watch *w)
{
	while (w->kept_head != NULL) {
		struct th_msg *next = w->kept_head->next;
		th_msg_free(w->kept_head);
		w->kept_head = next;
	}
	w->kept_tail = NULL;
	for (size_t i = 0; i < TH_WATCH_SNAPS; i++) {
		free(w->snap_topic[i]);
		free(w->snap[i]);
		w->snap_topic[i] = w->snap[i] = NULL;
	}
}
