# MARQUEE_SANITIZE: build every target (libraries, tests, the binaries) with the named sanitizers.
#   -DMARQUEE_SANITIZE=address,undefined   AddressSanitizer + UndefinedBehaviorSanitizer (build-asan)
#   -DMARQUEE_SANITIZE=thread              ThreadSanitizer (build-tsan)
# Any finding aborts the process (-fno-sanitize-recover=all), so a test that trips one fails.
# scripts/sanitize asan|tsan configures, builds and runs ctest with them; see docs/reliability.md.
set(MARQUEE_SANITIZE "" CACHE STRING "Sanitizers for every target: address,undefined | thread | empty for none")
if(MARQUEE_SANITIZE)
  if(MARQUEE_SANITIZE MATCHES "thread" AND MARQUEE_SANITIZE MATCHES "address")
    message(FATAL_ERROR "MARQUEE_SANITIZE: thread cannot be combined with address")
  endif()
  add_compile_options(-fsanitize=${MARQUEE_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=${MARQUEE_SANITIZE})
  # Tests are listed when ctest runs, not as a build step, so a sanitizer finding in a test binary shows up
  # as a failing test with its report instead of a failed build.
  set(CMAKE_GTEST_DISCOVER_TESTS_DISCOVERY_MODE PRE_TEST)
endif()

# MARQUEE_FUZZ: libFuzzer harnesses in fuzz/ (clang only: -DCMAKE_CXX_COMPILER=/usr/bin/clang++). Every target is
# instrumented for coverage with ASan + UBSan; only the harnesses link libFuzzer's main. scripts/fuzz builds them.
option(MARQUEE_FUZZ "Build the libFuzzer harnesses in fuzz/ (clang)" OFF)
if(MARQUEE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "MARQUEE_FUZZ needs clang: -DCMAKE_CXX_COMPILER=/usr/bin/clang++")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
                      -g -Wno-unknown-warning-option)
  add_link_options(-fsanitize=address,undefined)
endif()
