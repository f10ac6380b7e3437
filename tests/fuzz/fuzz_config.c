/* SPDX-License-Identifier: MIT */
/* The config parser on arbitrary bytes: it must reject or accept, never
 * crash, read out of bounds or leak. */
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(int level, const char *line, void *user_data)
{
	(void)level;
	(void)line;
	(void)user_data;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg;

	log_set_sink(quiet, NULL);
	cfg = config_load_buffer("fuzz.conf", (const char *)data, size);
	config_free(cfg);
	return 0;
}
