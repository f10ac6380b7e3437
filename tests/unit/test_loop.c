/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"

struct counter {
	int calls;
	int destroyed;
	int id;
	struct loop *loop;
	uint32_t last_events;
};

static void count_destroy(void *user_data)
{
	((struct counter *)user_data)->destroyed++;
}

static void on_fd(struct loop *loop, int fd, uint32_t events, void *user_data)
{
	struct counter *c = user_data;
	char buf[16];

	(void)loop;
	c->calls++;
	c->last_events = events;
	if (events & EPOLLIN)
		(void)!read(fd, buf, sizeof(buf));
}

static void test_fd_source_and_modify(void **state)
{
	struct loop *loop = loop_new();
	struct counter c = {0};
	int fds[2], id;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	id = loop_add_fd(loop, fds[0], EPOLLIN, on_fd, &c, count_destroy);
	assert_true(id > 0);
	/* Nothing readable: the iteration times out without a call. */
	assert_int_equal(loop_iterate(loop, 0), 0);
	assert_int_equal(c.calls, 0);
	assert_int_equal(write(fds[1], "x", 1), 1);
	assert_int_equal(loop_iterate(loop, 1000), 1);
	assert_int_equal(c.calls, 1);
	assert_true(c.last_events & EPOLLIN);

	/* Watch the write end for writability instead. */
	assert_int_equal(loop_remove(loop, id), 0);
	assert_int_equal(c.destroyed, 1);
	id = loop_add_fd(loop, fds[1], 0, on_fd, &c, count_destroy);
	assert_int_equal(loop_iterate(loop, 0), 0);
	assert_int_equal(loop_modify_fd(loop, id, EPOLLOUT), 0);
	assert_int_equal(loop_iterate(loop, 1000), 1);
	assert_true(c.last_events & EPOLLOUT);
	assert_int_equal(loop_modify_fd(loop, 9999, EPOLLOUT), -ENOENT);

	loop_free(loop);
	assert_int_equal(c.destroyed, 2);
	close(fds[0]);
	close(fds[1]);
}

struct order {
	int seen[8];
	int n;
};

struct timer_arg {
	struct order *order;
	int tag;
	int rearm_times;
	int id;
};

static void on_timer(struct loop *loop, void *user_data)
{
	struct timer_arg *t = user_data;

	t->order->seen[t->order->n++] = t->tag;
	if (t->rearm_times > 0) {
		t->rearm_times--;
		loop_timer_rearm(loop, t->id, 1);
	}
}

static void test_timers_fire_in_order_once(void **state)
{
	struct loop *loop = loop_new();
	struct order order = {0};
	struct timer_arg late = {&order, 2, 0, 0}, early = {&order, 1, 0, 0};
	uint64_t start = loop_now_ms();

	(void)state;
	late.id = loop_add_timer(loop, 40, on_timer, &late, NULL);
	early.id = loop_add_timer(loop, 10, on_timer, &early, NULL);
	while (order.n < 2)
		assert_true(loop_iterate(loop, 1000) >= 0);
	assert_int_equal(order.seen[0], 1);
	assert_int_equal(order.seen[1], 2);
	assert_true(loop_now_ms() - start >= 40);
	/* One-shot: both are gone now. */
	assert_int_equal(loop_remove(loop, late.id), -ENOENT);
	assert_int_equal(loop_iterate(loop, 20), 0);
	assert_int_equal(order.n, 2);
	loop_free(loop);
}

static void test_timer_rearm_from_callback(void **state)
{
	struct loop *loop = loop_new();
	struct order order = {0};
	struct timer_arg t = {&order, 7, 2, 0};

	(void)state;
	t.id = loop_add_timer(loop, 1, on_timer, &t, NULL);
	while (order.n < 3)
		assert_true(loop_iterate(loop, 1000) >= 0);
	assert_int_equal(loop_iterate(loop, 20), 0);
	assert_int_equal(order.n, 3);
	loop_free(loop);
}

static void test_timer_moved_later(void **state)
{
	struct loop *loop = loop_new();
	struct order order = {0};
	struct timer_arg t = {&order, 1, 0, 0};
	uint64_t start = loop_now_ms();

	(void)state;
	t.id = loop_add_timer(loop, 5, on_timer, &t, NULL);
	assert_int_equal(loop_timer_rearm(loop, t.id, 60), 0);
	while (order.n < 1)
		assert_true(loop_iterate(loop, 1000) >= 0);
	assert_true(loop_now_ms() - start >= 60);
	loop_free(loop);
}

static void on_defer(struct loop *loop, void *user_data)
{
	struct counter *c = user_data;

	(void)loop;
	c->calls++;
}

static void test_defer_runs_once_and_next_batch(void **state)
{
	struct loop *loop = loop_new();
	struct counter a = {0}, b = {0};
	int id;

	(void)state;
	assert_true(loop_add_defer(loop, on_defer, &a, count_destroy) > 0);
	id = loop_add_defer(loop, on_defer, &b, count_destroy);
	assert_int_equal(loop_remove(loop, id), 0);
	assert_int_equal(b.destroyed, 1);
	/* A pending defer makes the wait non-blocking. */
	assert_int_equal(loop_iterate(loop, -1), 1);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.destroyed, 1);
	assert_int_equal(b.calls, 0);
	assert_int_equal(loop_iterate(loop, 0), 0);
	assert_int_equal(a.calls, 1);
	loop_free(loop);
}

static void redefer(struct loop *loop, void *user_data)
{
	struct counter *c = user_data;

	c->calls++;
	loop_add_defer(loop, c->calls < 3 ? redefer : on_defer, c, NULL);
}

static void test_defer_from_defer_waits_a_batch(void **state)
{
	struct loop *loop = loop_new();
	struct counter c = {0};

	(void)state;
	loop_add_defer(loop, redefer, &c, NULL);
	assert_int_equal(loop_iterate(loop, 0), 1);
	assert_int_equal(c.calls, 1);
	assert_int_equal(loop_iterate(loop, 0), 1);
	assert_int_equal(c.calls, 2);
	loop_free(loop);
}

static void on_signal(struct loop *loop, int signo, void *user_data)
{
	struct counter *c = user_data;

	c->calls++;
	c->id = signo;
	loop_quit(loop, 42);
}

static void test_signal_through_signalfd(void **state)
{
	struct loop *loop = loop_new();
	struct counter c = {0};

	(void)state;
	assert_true(loop_add_signal(loop, SIGUSR1, on_signal, &c, NULL) > 0);
	assert_int_equal(loop_add_signal(loop, 0, on_signal, &c, NULL), -EINVAL);
	assert_int_equal(raise(SIGUSR1), 0);
	/* Blocked and queued: the process survives and the loop sees it. */
	assert_int_equal(loop_run(loop), 42);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.id, SIGUSR1);
	loop_free(loop);
}

struct self_remover {
	int id;
	int calls;
	int destroyed;
	int other_id;
};

static void self_destroy(void *user_data)
{
	((struct self_remover *)user_data)->destroyed++;
}

static void remove_self(struct loop *loop, int fd, uint32_t events, void *user_data)
{
	struct self_remover *s = user_data;

	(void)fd;
	(void)events;
	s->calls++;
	assert_int_equal(loop_remove(loop, s->id), 0);
	/* Freed only after the batch: still intact here. */
	assert_int_equal(s->destroyed, 0);
	if (s->other_id)
		assert_int_equal(loop_remove(loop, s->other_id), 0);
}

static void test_remove_inside_own_callback(void **state)
{
	struct loop *loop = loop_new();
	struct self_remover a = {0}, b = {0};
	int fds[2];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], "xy", 2), 2);
	/* Both ready in the same batch; whichever runs first removes both, so
	 * exactly one callback runs. */
	a.id = loop_add_fd(loop, fds[0], EPOLLIN, remove_self, &a, self_destroy);
	b.id = loop_add_fd(loop, fds[1], EPOLLOUT, remove_self, &b, self_destroy);
	a.other_id = b.id;
	b.other_id = a.id;
	assert_int_equal(loop_iterate(loop, 1000), 1);
	assert_int_equal(a.calls + b.calls, 1);
	assert_int_equal(a.destroyed, 1);
	assert_int_equal(b.destroyed, 1);
	assert_int_equal(loop_iterate(loop, 0), 0);
	loop_free(loop);
	assert_int_equal(a.destroyed, 1);
	close(fds[0]);
	close(fds[1]);
}

static void remove_timer_cb(struct loop *loop, void *user_data)
{
	struct self_remover *s = user_data;

	s->calls++;
	assert_int_equal(loop_remove(loop, s->other_id), 0);
}

static void test_timer_removes_other_due_timer(void **state)
{
	struct loop *loop = loop_new();
	struct self_remover a = {0}, b = {0};

	(void)state;
	a.id = loop_add_timer(loop, 0, remove_timer_cb, &a, self_destroy);
	b.id = loop_add_timer(loop, 0, remove_timer_cb, &b, self_destroy);
	a.other_id = b.id;
	b.other_id = a.id;
	usleep(2000);
	assert_int_equal(loop_iterate(loop, 0), 1);
	assert_int_equal(a.calls + b.calls, 1);
	assert_int_equal(a.destroyed + b.destroyed, 2);
	loop_free(loop);
}

static void test_bad_arguments(void **state)
{
	struct loop *loop = loop_new();

	(void)state;
	assert_int_equal(loop_add_fd(loop, -1, EPOLLIN, on_fd, NULL, NULL), -EINVAL);
	assert_int_equal(loop_add_fd(loop, 12345, EPOLLIN, on_fd, NULL, NULL), -EBADF);
	assert_int_equal(loop_add_timer(loop, 1, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(loop_remove(loop, 77), -ENOENT);
	assert_int_equal(loop_timer_rearm(loop, 77, 1), -ENOENT);
	loop_free(loop);
	loop_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fd_source_and_modify),
		cmocka_unit_test(test_timers_fire_in_order_once),
		cmocka_unit_test(test_timer_rearm_from_callback),
		cmocka_unit_test(test_timer_moved_later),
		cmocka_unit_test(test_defer_runs_once_and_next_batch),
		cmocka_unit_test(test_defer_from_defer_waits_a_batch),
		cmocka_unit_test(test_signal_through_signalfd),
		cmocka_unit_test(test_remove_inside_own_callback),
		cmocka_unit_test(test_timer_removes_other_due_timer),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
