/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <varde/ieee11073.h>
#include <varde/plugin.h>

size_t cxx_layout(size_t *out, size_t cap);

static void test_c_and_cxx_agree_on_layout(void **state)
{
	const size_t c_layout[] = {
		sizeof(struct varde_plugin),
		offsetof(struct varde_plugin, reserved),
		sizeof(struct varde_driver),
		sizeof(struct varde_host),
		offsetof(struct varde_host, state_set),
		sizeof(struct varde_reading),
		offsetof(struct varde_reading, components),
		sizeof(struct varde_value),
		sizeof(struct varde_datetime),
		sizeof(struct varde_component),
	};
	size_t cxx[16];
	size_t n = cxx_layout(cxx, 16);

	(void)state;
	assert_int_equal(n, sizeof(c_layout) / sizeof(c_layout[0]));
	for (size_t i = 0; i < n; i++)
		assert_int_equal(cxx[i], c_layout[i]);
}

static void test_abi_constants(void **state)
{
	struct varde_host h = {0};

	(void)state;
	/* Values that are part of the ABI and must never change. */
	assert_int_equal(VARDE_PLUGIN_ABI_MAJOR, 1);
	assert_int_equal(VARDE_METRIC_BLOOD_PRESSURE, 1);
	assert_int_equal(VARDE_METRIC_GLUCOSE_CONTROL_SOLUTION, 29);
	assert_int_equal(VARDE_UNIT_MMOL_PER_L, 16);
	assert_int_equal(VARDE_VALUE_NINF, 4);
	assert_int_equal(sizeof(struct varde_value), 8);
	assert_int_equal(sizeof(struct varde_datetime), 8);
	/* VARDE_HOST_HAS sees only what `size` covers. */
	h.size = offsetof(struct varde_host, state_get);
	assert_true(VARDE_HOST_HAS(&h, get_identity));
	assert_false(VARDE_HOST_HAS(&h, state_get));
	h.size = sizeof(h);
	assert_true(VARDE_HOST_HAS(&h, state_set));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_c_and_cxx_agree_on_layout),
		cmocka_unit_test(test_abi_constants),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
