#!/bin/sh
# Builds varde and runs every test. Installs missing Debian packages first.
#   tests/run-all.sh              gcc build, whole suite (build/)
#   tests/run-all.sh --sanitize   clang build with ASan+UBSan and libFuzzer
#                                 targets, whole suite (build-sanitize/)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/packaging/install-deps.sh"

if [ "${1:-}" = "--sanitize" ]; then
	build="$top/build-sanitize"
	set -- -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
		-DVARDE_SANITIZE=ON -DVARDE_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
else
	build="$top/build"
	set --
fi

cmake -S "$top" -B "$build" "$@"
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure -j"$(nproc)"
