/* apigw's SSE ring: ids, Last-Event-ID resume, the overflow record for a
 * client that fell behind, the ?mac= filter and whole-record reads. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sse.h"

#define FIRST 1000

static void
push_n(struct sse_ring *r, int n, uint64_t eui)
{
	for (int i = 0; i < n; i++) {
		char data[64];
		snprintf(data, sizeof(data), "{\"n\":%d}", i);
		assert_true(sse_ring_push(r, "uplink", data, true, eui) != 0);
	}
}

/* The text of the latest read_all(), freed by the group teardown. */
static struct abuf last_read;

static char *
read_all(struct sse_cursor *c, struct sse_ring *r, uint64_t *missed)
{
	abuf_reset(&last_read);
	*missed = sse_read(c, r, &last_read, 1 << 20);
	return last_read.data != NULL ? last_read.data : "";
}

static int
teardown(void **state)
{
	abuf_free(&last_read);
	return 0;
}

static void
test_records_and_ids(void **state)
{
	struct sse_ring r;
	assert_int_equal(sse_ring_init(&r, 8, FIRST), 0);
	struct sse_cursor c;
	sse_cursor_start(&c, &r, NULL, false, 0);
	assert_false(sse_pending(&c, &r));
	assert_int_equal(
	        sse_ring_push(&r, "gateway_online", "{\"type\":\"gateway_online\"}", true, 1),
	        FIRST);
	assert_int_equal(sse_ring_push(&r, "ack", "{\"a\":1}", false, 0), FIRST + 1);
	assert_true(sse_pending(&c, &r));
	uint64_t missed;
	assert_string_equal(
	        read_all(&c, &r, &missed),
	        "id: 1000\nevent: gateway_online\ndata: {\"type\":\"gateway_online\"}\n\n"
	        "id: 1001\nevent: ack\ndata: {\"a\":1}\n\n");
	assert_int_equal(missed, 0);
	assert_false(sse_pending(&c, &r));
	sse_ring_free(&r);
}

static void
test_resume_after_last_event_id(void **state)
{
	struct sse_ring r;
	assert_int_equal(sse_ring_init(&r, 8, FIRST), 0);
	push_n(&r, 5, 1);
	struct sse_cursor c;
	sse_cursor_start(&c, &r, "1002", false, 0);
	uint64_t missed;
	const char *text = read_all(&c, &r, &missed);
	assert_int_equal(missed, 0);
	assert_non_null(strstr(text, "id: 1003\n"));
	assert_non_null(strstr(text, "id: 1004\n"));
	assert_null(strstr(text, "id: 1002\n"));
	/* The last id: nothing to replay. */
	sse_cursor_start(&c, &r, "1004", false, 0);
	assert_false(sse_pending(&c, &r));
	/* "Just before the first": everything. */
	sse_cursor_start(&c, &r, "999", false, 0);
	text = read_all(&c, &r, &missed);
	assert_non_null(strstr(text, "id: 1000\n"));
	sse_ring_free(&r);
}

static void
test_fell_behind_gets_overflow(void **state)
{
	struct sse_ring r;
	assert_int_equal(sse_ring_init(&r, 4, FIRST), 0);
	struct sse_cursor c;
	sse_cursor_start(&c, &r, NULL, false, 0);
	push_n(&r, 10, 1); /* ids 1000..1009; the ring holds 1006..1009 */
	assert_int_equal(sse_ring_oldest(&r), 1006);
	uint64_t missed;
	const char *text = read_all(&c, &r, &missed);
	assert_int_equal(missed, 6);
	const char *want = "event: overflow\ndata: {\"type\":\"overflow\",\"missed\":6,"
	                   "\"resume_id\":1006}\n\nid: 1006\n";
	assert_memory_equal(text, want, strlen(want));
	assert_non_null(strstr(text, "id: 1009\n"));
	/* A resume from an id the ring no longer holds says so too. */
	sse_cursor_start(&c, &r, "1001", false, 0);
	text = read_all(&c, &r, &missed);
	assert_int_equal(missed, 4);
	assert_non_null(strstr(text, "\"missed\":4,\"resume_id\":1006}"));
	sse_ring_free(&r);
}

static void
test_unknown_last_event_id(void **state)
{
	struct sse_ring r;
	assert_int_equal(sse_ring_init(&r, 4, FIRST), 0);
	push_n(&r, 2, 1);
	static const char *const ids[] = {
	        "5", "99999999", "abc", "-1", "1000x", "", "99999999999999999999999"};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct sse_cursor c;
		sse_cursor_start(&c, &r, ids[i], false, 0);
		assert_true(sse_pending(&c, &r));
		uint64_t missed;
		assert_string_equal(read_all(&c, &r, &missed),
		                    "event: overflow\ndata: {\"type\":\"overflow\",\"missed\":null,"
		                    "\"resume_id\":1002}\n\n");
		assert_false(sse_pending(&c, &r));
	}
	sse_ring_free(&r);
}

static void
test_mac_filter(void **state)
{
	struct sse_ring r;
	assert_int_equal(sse_ring_init(&r, 16, FIRST), 0);
	struct sse_cursor c;
	sse_cursor_start(&c, &r, NULL, true, 2);
	push_n(&r, 2, 1);
	push_n(&r, 1, 2);
	assert_true(sse_ring_push(&r, "x", "{}", false, 0) != 0); /* no gateway: filtered out */
	push_n(&r, 1, 1);
	uint64_t missed;
	assert_string_equal(read_all(&c, &r, &missed),
	                    "id: 1002\nevent: uplink\ndata: {\"n\":0}\n\n");
	assert_false(sse_pending(&c, &r));
	sse_ring_free(&r);
}

static void
test_reads_whole_records_up_to_a_budget(void **state)
{
	struct sse_ring r;
	assert_int_equal(sse_ring_init(&r, 64, FIRST), 0);
	push_n(&r, 40, 1);
	struct sse_cursor c;
	sse_cursor_start(&c, &r, "999", false, 0);
	struct abuf b;
	abuf_init(&b);
	size_t total = 0;
	int reads = 0;
	while (sse_pending(&c, &r)) {
		abuf_reset(&b);
		sse_read(&c, &r, &b, 100);
		assert_true(b.len >= 100 || !sse_pending(&c, &r));
		assert_true(b.len >= 2 && memcmp(b.data + b.len - 2, "\n\n", 2) == 0);
		total += b.len;
		reads++;
	}
	assert_true(reads > 5);
	/* "id: 10xx\nevent: uplink\ndata: {"n":N}\n\n" is 38 bytes for N < 10. */
	assert_int_equal(total, 10 * 38 + 30 * 39);
	abuf_free(&b);
	sse_ring_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_records_and_ids),
	        cmocka_unit_test(test_resume_after_last_event_id),
	        cmocka_unit_test(test_fell_behind_gets_overflow),
	        cmocka_unit_test(test_unknown_last_event_id),
	        cmocka_unit_test(test_mac_filter),
	        cmocka_unit_test(test_reads_whole_records_up_to_a_budget),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
