# One set of compile options for every target of the project (engine, frames, views, gui, cli,
# bench, tests). Included from the top-level CMakeLists.txt before any target is made, so no
# target sets warnings of its own.

option(STATESCOPE_WERROR "Treat warnings as errors (CI turns this on)" OFF)
# The CPU reference spends its time in Eigen's matrix products, which AVX2/FMA/AVX-512 speed up
# (docs/benchmarks.md). Off by default so that a binary runs on other machines than the one that built it;
# tools/build.sh (the README's commands) turns it on, since they build for the machine they run on.
# It applies to every target alike, never to the engine alone: Eigen's matrices are passed across
# the engine's interface, and their alignment (EIGEN_MAX_ALIGN_BYTES) follows the instruction set,
# so code compiled with and without it must not be mixed.
option(STATESCOPE_NATIVE "Optimise for the building machine's CPU (-march=native)" OFF)

add_compile_options(-Wall -Wextra -Wno-unused-parameter)
if(STATESCOPE_WERROR)
  add_compile_options(-Werror)
endif()
if(STATESCOPE_NATIVE)
  add_compile_options(-march=native)
endif()

if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  # GCC 12 false positives, fixed in GCC 13: -Wrestrict on std::string concatenation inlined at -O2
  # (GCC bug 105651), and -Wmaybe-uninitialized inside its own AVX-512 intrinsics
  # (_mm512_undefined_*, GCC bug 105593) wherever Eigen vectorises with -march=native.
  add_compile_options(-Wno-restrict)
  if(STATESCOPE_NATIVE)
    add_compile_options(-Wno-maybe-uninitialized)
  endif()
endif()

if(STATESCOPE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "STATESCOPE_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++ "
                        "-DCMAKE_C_COMPILER=clang (tools/fuzz.sh does)")
  endif()
  # Coverage for libFuzzer's guidance and the sanitizers for its findings, in every target: a
  # parser's bug is as likely in the engine's code as in the fuzz target's.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=address,undefined)
endif()
