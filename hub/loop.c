/* SPDX-License-Identifier: MIT */
#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

enum source_kind { SOURCE_FD, SOURCE_TIMER, SOURCE_DEFER, SOURCE_SIGNAL };

struct source {
	struct source *next;
	int id;
	enum source_kind kind;
	bool removed;
	union {
		loop_fd_func fd;
		loop_func plain;
		loop_signal_func signal;
	} cb;
	void *user_data;
	loop_destroy_func destroy;
	int fd; /* SOURCE_FD */
	int signo; /* SOURCE_SIGNAL */
	uint64_t due; /* SOURCE_TIMER: deadline */
	bool armed; /* SOURCE_TIMER: false while its callback runs */
	uint64_t batch; /* SOURCE_DEFER: runs in batches after this one */
};

struct loop {
	int epoll_fd;
	int signal_fd; /* -1 until the first signal source */
	sigset_t signal_mask;
	struct source *sources;
	int next_id;
	uint64_t batch; /* number of the dispatch batch in progress */
	bool dispatching;
	bool quit;
	int status;
};

/* The signalfd's own epoll entry carries this marker instead of a source. */
static char signal_marker;

uint64_t loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct loop *loop_new(void)
{
	struct loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epoll_fd < 0) {
		free(loop);
		return NULL;
	}
	loop->signal_fd = -1;
	sigemptyset(&loop->signal_mask);
	loop->next_id = 1;
	return loop;
}

static void source_free(struct source *s)
{
	if (s->destroy)
		s->destroy(s->user_data);
	free(s);
}

void loop_free(struct loop *loop)
{
	struct source *s, *next;

	if (!loop)
		return;
	for (s = loop->sources; s; s = next) {
		next = s->next;
		source_free(s);
	}
	/* The signals stay blocked: unblocking would deliver one that arrived
	 * during shutdown (a second SIGTERM) with its default action. */
	if (loop->signal_fd >= 0)
		close(loop->signal_fd);
	close(loop->epoll_fd);
	free(loop);
}

static struct source *source_new(struct loop *loop, enum source_kind kind, void *user_data,
				 loop_destroy_func destroy)
{
	struct source *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->kind = kind;
	s->user_data = user_data;
	s->destroy = destroy;
	s->fd = -1;
	s->id = loop->next_id++;
	if (loop->next_id <= 0) /* wrapped after 2^31 registrations */
		loop->next_id = 1;
	s->next = loop->sources;
	loop->sources = s;
	return s;
}

/* Unlinks a source that was just created and not yet handed out. */
static void source_unlink_new(struct loop *loop, struct source *s)
{
	loop->sources = s->next;
	free(s);
}

static struct source *source_find(struct loop *loop, int id)
{
	for (struct source *s = loop->sources; s; s = s->next)
		if (s->id == id && !s->removed)
			return s;
	return NULL;
}

int loop_add_fd(struct loop *loop, int fd, uint32_t events, loop_fd_func cb, void *user_data,
		loop_destroy_func destroy)
{
	struct epoll_event ev = {.events = events};
	struct source *s;

	if (fd < 0 || !cb)
		return -EINVAL;
	s = source_new(loop, SOURCE_FD, user_data, destroy);
	if (!s)
		return -ENOMEM;
	s->fd = fd;
	s->cb.fd = cb;
	ev.data.ptr = s;
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		source_unlink_new(loop, s);
		return err;
	}
	return s->id;
}

int loop_modify_fd(struct loop *loop, int id, uint32_t events)
{
	struct source *s = source_find(loop, id);
	struct epoll_event ev = {.events = events};

	if (!s || s->kind != SOURCE_FD)
		return -ENOENT;
	ev.data.ptr = s;
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_MOD, s->fd, &ev) < 0)
		return -errno;
	return 0;
}

int loop_add_timer(struct loop *loop, uint64_t msec, loop_func cb, void *user_data,
		   loop_destroy_func destroy)
{
	struct source *s;

	if (!cb)
		return -EINVAL;
	s = source_new(loop, SOURCE_TIMER, user_data, destroy);
	if (!s)
		return -ENOMEM;
	s->cb.plain = cb;
	s->due = loop_now_ms() + msec;
	s->armed = true;
	return s->id;
}

int loop_timer_rearm(struct loop *loop, int id, uint64_t msec)
{
	struct source *s = source_find(loop, id);

	if (!s || s->kind != SOURCE_TIMER)
		return -ENOENT;
	s->due = loop_now_ms() + msec;
	s->armed = true;
	return 0;
}

int loop_add_defer(struct loop *loop, loop_func cb, void *user_data, loop_destroy_func destroy)
{
	struct source *s;

	if (!cb)
		return -EINVAL;
	s = source_new(loop, SOURCE_DEFER, user_data, destroy);
	if (!s)
		return -ENOMEM;
	s->cb.plain = cb;
	/* Deferred during a batch: runs in the next one, so a callback that
	 * defers itself again cannot starve fds and timers. */
	s->batch = loop->batch;
	return s->id;
}

static int signal_fd_update(struct loop *loop)
{
	int fd = signalfd(loop->signal_fd, &loop->signal_mask, SFD_NONBLOCK | SFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (loop->signal_fd < 0) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &signal_marker};

		if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			int err = -errno;

			close(fd);
			return err;
		}
		loop->signal_fd = fd;
	}
	return 0;
}

int loop_add_signal(struct loop *loop, int signo, loop_signal_func cb, void *user_data,
		    loop_destroy_func destroy)
{
	struct source *s;
	sigset_t one;
	int err;

	if (!cb || signo <= 0 || signo >= NSIG)
		return -EINVAL;
	sigemptyset(&one);
	sigaddset(&one, signo);
	if (sigprocmask(SIG_BLOCK, &one, NULL) < 0)
		return -errno;
	sigaddset(&loop->signal_mask, signo);
	err = signal_fd_update(loop);
	if (err < 0)
		return err;
	s = source_new(loop, SOURCE_SIGNAL, user_data, destroy);
	if (!s)
		return -ENOMEM;
	s->signo = signo;
	s->cb.signal = cb;
	return s->id;
}

int loop_remove(struct loop *loop, int id)
{
	struct source *s = source_find(loop, id), **p;

	if (!s)
		return -ENOENT;
	if (s->kind == SOURCE_FD)
		epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, s->fd, NULL);
	/* The signal stays blocked and in the signalfd's mask: unblocking it
	 * would let its default action kill the process. */
	s->removed = true;
	if (loop->dispatching)
		return 0; /* freed at the end of the batch */
	for (p = &loop->sources; *p != s; p = &(*p)->next)
		;
	*p = s->next;
	source_free(s);
	return 0;
}

void loop_quit(struct loop *loop, int status)
{
	loop->quit = true;
	loop->status = status;
}

static bool have_pending_defers(struct loop *loop)
{
	for (struct source *s = loop->sources; s; s = s->next)
		if (s->kind == SOURCE_DEFER && !s->removed)
			return true;
	return false;
}

/* Milliseconds until the next timer is due, or -1 when none is armed. */
static int next_timeout(struct loop *loop, uint64_t now)
{
	uint64_t first = UINT64_MAX;

	for (struct source *s = loop->sources; s; s = s->next)
		if (s->kind == SOURCE_TIMER && !s->removed && s->armed && s->due < first)
			first = s->due;
	if (first == UINT64_MAX)
		return -1;
	if (first <= now)
		return 0;
	return first - now > INT32_MAX ? INT32_MAX : (int)(first - now);
}

static int dispatch_signals(struct loop *loop)
{
	struct signalfd_siginfo info;
	int n = 0;

	while (read(loop->signal_fd, &info, sizeof(info)) == (ssize_t)sizeof(info)) {
		for (struct source *s = loop->sources; s; s = s->next) {
			if (s->kind != SOURCE_SIGNAL || s->removed ||
			    s->signo != (int)info.ssi_signo)
				continue;
			s->cb.signal(loop, s->signo, s->user_data);
			n++;
		}
	}
	return n;
}

static int dispatch_timers(struct loop *loop)
{
	uint64_t now = loop_now_ms();
	int n = 0;

	for (struct source *s = loop->sources; s; s = s->next) {
		if (s->kind != SOURCE_TIMER || s->removed || !s->armed || s->due > now)
			continue;
		s->armed = false;
		s->cb.plain(loop, s->user_data);
		/* One-shot: gone after its callback unless the callback re-armed it. */
		if (!s->armed)
			s->removed = true;
		n++;
	}
	return n;
}

static int dispatch_defers(struct loop *loop)
{
	int n = 0;

	for (struct source *s = loop->sources; s; s = s->next) {
		if (s->kind != SOURCE_DEFER || s->removed || s->batch >= loop->batch)
			continue;
		s->removed = true;
		s->cb.plain(loop, s->user_data);
		n++;
	}
	return n;
}

static void collect_garbage(struct loop *loop)
{
	struct source **p = &loop->sources;

	while (*p) {
		struct source *s = *p;

		if (s->removed) {
			*p = s->next;
			source_free(s);
		} else {
			p = &s->next;
		}
	}
}

int loop_iterate(struct loop *loop, int timeout_ms)
{
	struct epoll_event events[32];
	int timeout, n, dispatched = 0;

	timeout = next_timeout(loop, loop_now_ms());
	if (timeout < 0 || (timeout_ms >= 0 && timeout_ms < timeout))
		timeout = timeout_ms;
	if (have_pending_defers(loop))
		timeout = 0;

	n = epoll_wait(loop->epoll_fd, events, 32, timeout);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;

	loop->batch++;
	loop->dispatching = true;
	for (int i = 0; i < n; i++) {
		struct source *s = events[i].data.ptr;

		if (events[i].data.ptr == &signal_marker) {
			dispatched += dispatch_signals(loop);
			continue;
		}
		if (s->removed)
			continue;
		s->cb.fd(loop, s->fd, events[i].events, s->user_data);
		dispatched++;
	}
	dispatched += dispatch_timers(loop);
	dispatched += dispatch_defers(loop);
	loop->dispatching = false;
	collect_garbage(loop);
	return dispatched;
}

int loop_run(struct loop *loop)
{
	loop->quit = false;
	while (!loop->quit) {
		int err = loop_iterate(loop, -1);

		if (err < 0)
			return err;
	}
	return loop->status;
}
