/* What the apigw targets share: the SSE stream a client reads must be
 * well formed, whatever went into the ring. */
#ifndef LF_FUZZ_APIGW_CHECKS_H
#define LF_FUZZ_APIGW_CHECKS_H

#include <stddef.h>

#include "sse.h"

/* Reads the cursor's whole stream (as write_sse does, in chunks) and
 * checks every record: "id: N\n" (except overflow), "event: NAME\n",
 * "data: <one JSON object>\n", then a blank line. */
void check_sse_stream(struct sse_cursor *c, const struct sse_ring *r);

/* Prometheus text exposition format, line by line: # HELP / # TYPE with
 * valid names, samples `name{label="escaped",...} value`. What promtool
 * and Prometheus would refuse (one bad line loses the whole scrape). */
void check_prometheus_text(const char *text, size_t len);

#endif
