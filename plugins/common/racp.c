// SPDX-License-Identifier: MIT
/*
 * Record Access Control Point codec. Layout (Glucose Service 1.0 §3.10,
 * shared by PLXS): opcode, operator, then an operand whose first byte is
 * the filter type when the operator takes one.
 */
#include <errno.h>

#include <varde/ieee11073.h>

#include "racp.h"

static int put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v & 0xff);
	p[1] = (uint8_t)(v >> 8);
	return 2;
}

int racp_encode_all(uint8_t opcode, uint8_t *buf, size_t len)
{
	if (len < 2)
		return -ENOSPC;
	buf[0] = opcode;
	buf[1] = RACP_OPERATOR_ALL;
	return 2;
}

int racp_encode_seq_ge(uint8_t opcode, uint16_t min, uint8_t *buf, size_t len)
{
	if (len < 5)
		return -ENOSPC;
	buf[0] = opcode;
	buf[1] = RACP_OPERATOR_GE;
	buf[2] = RACP_FILTER_SEQUENCE;
	return 3 + put_u16(buf + 3, min);
}

int racp_encode_seq_range(uint8_t opcode, uint16_t min, uint16_t max, uint8_t *buf, size_t len)
{
	if (len < 7)
		return -ENOSPC;
	buf[0] = opcode;
	buf[1] = RACP_OPERATOR_RANGE;
	buf[2] = RACP_FILTER_SEQUENCE;
	put_u16(buf + 3, min);
	put_u16(buf + 5, max);
	return 7;
}

int racp_encode_abort(uint8_t *buf, size_t len)
{
	if (len < 2)
		return -ENOSPC;
	buf[0] = RACP_OP_ABORT;
	buf[1] = RACP_OPERATOR_NULL;
	return 2;
}

int racp_decode(const uint8_t *data, size_t len, struct racp_indication *out)
{
	struct varde_cursor c = varde_cursor_init(data, len);
	struct racp_indication ind = {0};
	uint8_t oper;

	if (!varde_get_u8(&c, &ind.opcode) || !varde_get_u8(&c, &oper) ||
	    oper != RACP_OPERATOR_NULL)
		return -EBADMSG;

	switch (ind.opcode) {
	case RACP_OP_RESPONSE_CODE:
		if (!varde_get_u8(&c, &ind.request_opcode) || !varde_get_u8(&c, &ind.response))
			return -EBADMSG;
		break;
	case RACP_OP_COUNT_RESPONSE:
		if (!varde_get_le16(&c, &ind.count))
			return -EBADMSG;
		break;
	default:
		return -EBADMSG;
	}
	*out = ind;
	return 0;
}

const char *racp_response_name(uint8_t response)
{
	switch (response) {
	case RACP_RSP_SUCCESS:
		return "success";
	case RACP_RSP_OPCODE_NOT_SUPPORTED:
		return "op code not supported";
	case RACP_RSP_INVALID_OPERATOR:
		return "invalid operator";
	case RACP_RSP_OPERATOR_NOT_SUPPORTED:
		return "operator not supported";
	case RACP_RSP_INVALID_OPERAND:
		return "invalid operand";
	case RACP_RSP_NO_RECORDS:
		return "no records found";
	case RACP_RSP_ABORT_UNSUCCESSFUL:
		return "abort unsuccessful";
	case RACP_RSP_NOT_COMPLETED:
		return "procedure not completed";
	case RACP_RSP_OPERAND_NOT_SUPPORTED:
		return "operand not supported";
	default:
		return "reserved";
	}
}
