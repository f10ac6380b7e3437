/* SPDX-License-Identifier: MIT */
/*
 * The hub's single event loop: epoll over file descriptors, monotonic
 * timers, deferred calls and signals (through signalfd).
 *
 * Every registration returns a positive id (or a negative errno) and takes a
 * user_data with an optional destroy, called exactly once when the source
 * goes away (removed, or the loop freed). A source may be removed from inside
 * any callback, its own included: it is not dispatched again and is freed
 * after the current dispatch batch.
 *
 * Timers are one-shot: a timer is removed (and its destroy called) after its
 * callback returns, unless the callback re-armed it with loop_timer_rearm().
 * The loop never wakes for anything but a due timer or a ready fd, so an
 * idle hub sleeps.
 */
#ifndef VARDE_LOOP_H
#define VARDE_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;

typedef void (*loop_destroy_func)(void *user_data);
typedef void (*loop_fd_func)(struct loop *loop, int fd, uint32_t events, void *user_data);
typedef void (*loop_func)(struct loop *loop, void *user_data);
typedef void (*loop_signal_func)(struct loop *loop, int signo, void *user_data);

struct loop *loop_new(void);
/* Calls the destroy of every source still registered. */
void loop_free(struct loop *loop);

/* Runs until loop_quit(); returns the status given to it. */
int loop_run(struct loop *loop);
/* Runs one iteration, waiting at most `timeout_ms` (-1: until something
 * happens). Returns the number of callbacks dispatched or a negative errno.
 * For tests and for embedding. */
int loop_iterate(struct loop *loop, int timeout_ms);
void loop_quit(struct loop *loop, int status);

/* Milliseconds on CLOCK_MONOTONIC. */
uint64_t loop_now_ms(void);

/* `events` are EPOLLIN/EPOLLOUT/...; the fd is not closed by the loop. */
int loop_add_fd(struct loop *loop, int fd, uint32_t events, loop_fd_func cb, void *user_data,
		loop_destroy_func destroy);
int loop_modify_fd(struct loop *loop, int id, uint32_t events);

/* A one-shot timer due `msec` from now. */
int loop_add_timer(struct loop *loop, uint64_t msec, loop_func cb, void *user_data,
		   loop_destroy_func destroy);
/* Moves a pending timer's deadline to `msec` from now; from inside its own
 * callback, keeps it registered for another round. */
int loop_timer_rearm(struct loop *loop, int id, uint64_t msec);

/* Called once, from the loop, before it next waits. */
int loop_add_defer(struct loop *loop, loop_func cb, void *user_data, loop_destroy_func destroy);

/* Blocks `signo` for the process and delivers it through a signalfd. */
int loop_add_signal(struct loop *loop, int signo, loop_signal_func cb, void *user_data,
		    loop_destroy_func destroy);

/* Removes a source of any kind. Returns 0 or -ENOENT. */
int loop_remove(struct loop *loop, int id);

#endif /* VARDE_LOOP_H */
