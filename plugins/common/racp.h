/* SPDX-License-Identifier: MIT */
/*
 * Record Access Control Point (0x2A52) codec, shared by the plugins whose
 * devices keep stored records (Glucose, Pulse Oximeter). Pure functions: no
 * host calls, so both plugins and their tests link it as a static library.
 */
#ifndef VARDE_PLUGINS_RACP_H
#define VARDE_PLUGINS_RACP_H

#include <stddef.h>
#include <stdint.h>

enum racp_opcode {
	RACP_OP_REPORT_RECORDS = 0x01,
	RACP_OP_DELETE_RECORDS = 0x02,
	RACP_OP_ABORT = 0x03,
	RACP_OP_REPORT_COUNT = 0x04,
	RACP_OP_COUNT_RESPONSE = 0x05,
	RACP_OP_RESPONSE_CODE = 0x06,
};

enum racp_operator {
	RACP_OPERATOR_NULL = 0x00,
	RACP_OPERATOR_ALL = 0x01,
	RACP_OPERATOR_LE = 0x02,
	RACP_OPERATOR_GE = 0x03,
	RACP_OPERATOR_RANGE = 0x04,
	RACP_OPERATOR_FIRST = 0x05,
	RACP_OPERATOR_LAST = 0x06,
};

/* Filter type of the operand (Glucose Service): only sequence numbers are
 * used here, user facing time is never asked for. */
#define RACP_FILTER_SEQUENCE 0x01

enum racp_response {
	RACP_RSP_SUCCESS = 0x01,
	RACP_RSP_OPCODE_NOT_SUPPORTED = 0x02,
	RACP_RSP_INVALID_OPERATOR = 0x03,
	RACP_RSP_OPERATOR_NOT_SUPPORTED = 0x04,
	RACP_RSP_INVALID_OPERAND = 0x05,
	RACP_RSP_NO_RECORDS = 0x06,
	RACP_RSP_ABORT_UNSUCCESSFUL = 0x07,
	RACP_RSP_NOT_COMPLETED = 0x08,
	RACP_RSP_OPERAND_NOT_SUPPORTED = 0x09,
};

/* The longest request this codec writes (opcode, operator, filter, 2 x uint16). */
#define RACP_REQUEST_MAX 7

/*
 * Request encoders. Each writes into `buf` (at least `len` bytes) and
 * returns the number of bytes written, or -ENOSPC when `len` is too small.
 * `opcode` is RACP_OP_REPORT_RECORDS, RACP_OP_DELETE_RECORDS or
 * RACP_OP_REPORT_COUNT.
 */
int racp_encode_all(uint8_t opcode, uint8_t *buf, size_t len);
int racp_encode_seq_ge(uint8_t opcode, uint16_t min, uint8_t *buf, size_t len);
int racp_encode_seq_range(uint8_t opcode, uint16_t min, uint16_t max, uint8_t *buf, size_t len);
int racp_encode_abort(uint8_t *buf, size_t len);

/* A decoded indication of the control point. */
struct racp_indication {
	uint8_t opcode; /* RACP_OP_RESPONSE_CODE or RACP_OP_COUNT_RESPONSE */
	uint8_t request_opcode; /* RACP_OP_RESPONSE_CODE: the request answered */
	uint8_t response; /* RACP_OP_RESPONSE_CODE: enum racp_response */
	uint16_t count; /* RACP_OP_COUNT_RESPONSE: number of records */
};

/*
 * Decodes a response code or number-of-records indication. Returns 0, or
 * -EBADMSG for a short frame, another opcode (a server never indicates a
 * request) or an operator other than Null. Bytes after the operand are
 * ignored: later versions of a profile may append fields.
 */
int racp_decode(const uint8_t *data, size_t len, struct racp_indication *out);

/* Spec name of a response code, for logs ("reserved" for unknown codes). */
const char *racp_response_name(uint8_t response);

#endif /* VARDE_PLUGINS_RACP_H */
