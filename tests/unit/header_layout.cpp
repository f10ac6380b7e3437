// SPDX-License-Identifier: MIT
// The public headers compiled as C++: a vendor's C++ plugin must see the
// same struct layout as the C hub. This file reports that layout.
#include <cstddef>

#include <varde/ieee11073.h>
#include <varde/plugin.h>

extern "C" size_t cxx_layout(size_t *out, size_t cap);

extern "C" size_t cxx_layout(size_t *out, size_t cap)
{
	const size_t layout[] = {
		sizeof(varde_plugin),
		offsetof(varde_plugin, reserved),
		sizeof(varde_driver),
		sizeof(varde_host),
		offsetof(varde_host, state_set),
		sizeof(varde_reading),
		offsetof(varde_reading, components),
		sizeof(varde_value),
		sizeof(varde_datetime),
		sizeof(varde_component),
	};
	size_t n = sizeof(layout) / sizeof(layout[0]);
	varde_value v = varde_sfloat_decode(0xF0BD);

	for (size_t i = 0; i < n && i < cap; i++)
		out[i] = layout[i];
	// The inline helpers work the same from C++.
	return v.mantissa == 189 && v.exponent == -1 ? n : 0;
}
