/* SPDX-License-Identifier: MIT */
/* The shared public GATT vectors (tests/data/gatt.tsv), looked up by name. */
#ifndef VARDE_TEST_VECTORS_H
#define VARDE_TEST_VECTORS_H

#include <stddef.h>
#include <stdint.h>

/* Fills `buf` with the payload of vector `name`; returns its length, or
 * fails the running test when the vector is missing or malformed. */
size_t vector_bytes(const char *name, uint8_t *buf, size_t cap);

#endif
