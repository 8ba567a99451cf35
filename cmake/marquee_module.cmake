# Test code (the GoogleTest executables and the libraries only they link) is built for running the tests, not
# for shipping (ADR 0059): at MARQUEE_TEST_OPTIMIZE (-O1) instead of the build type's -O3, and with
# MARQUEE_UNITY_TESTS several sources of one test executable in one translation unit, so Boost, Beast and
# GoogleTest are parsed and instantiated once per batch instead of once per file. The code under test is the
# libraries', compiled as shipped. Together they halve what test code costs a cold build (two thirds of it before).
option(MARQUEE_UNITY_TESTS "Compile a test executable's sources in batches (CMake unity build)" ON)
set(MARQUEE_TEST_OPTIMIZE "-O1" CACHE STRING "Optimization flag for test code in optimized builds (empty: the build type's)")

# marquee_test_code(target): the options above, for a target of test code.
function(marquee_test_code target)
  if(MARQUEE_TEST_OPTIMIZE AND NOT CMAKE_BUILD_TYPE STREQUAL "Debug")
    # GCC 12 at -O1 takes Boost.Asio's awaitable frame allocation (thread_info_base::allocate, then the frame's
    # sized operator delete) for a mismatched pair: a known false positive (GCC PR 109224).
    target_compile_options(${target} PRIVATE ${MARQUEE_TEST_OPTIMIZE} $<$<CXX_COMPILER_ID:GNU>:-Wno-mismatched-new-delete>)
  endif()
  # In a batch every source is an included file (of the batch), for which GCC's -Wsubobject-linkage (meant for
  # headers shared by several translation units) reports each lambda of an anonymous namespace a coroutine
  # frame holds; the batch is one translation unit of its own, so there is nothing to report.
  set_target_properties(${target} PROPERTIES UNITY_BUILD ${MARQUEE_UNITY_TESTS} UNITY_BUILD_BATCH_SIZE 8)
  if(MARQUEE_UNITY_TESTS)
    target_compile_options(${target} PRIVATE $<$<CXX_COMPILER_ID:GNU>:-Wno-subobject-linkage>)
  endif()
endfunction()

# marquee_module(name SOURCES ... DEPS ... [PUBLIC_DEPS ...] [TESTS ...] [DB_TESTS ...])
#
# One static library per folder: marquee_<name> (alias marquee::<name>), linking DEPS and nothing else.
# TESTS become marquee_<name>_tests (ctest label `unit`, nothing started needed);
# DB_TESTS become marquee_<name>_dbtests (label `db`, need the local PostgreSQL/Redis/NATS).
function(marquee_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;TESTS;DB_TESTS" ${ARGN})
  add_library(marquee_${name} STATIC ${M_SOURCES})
  add_library(marquee::${name} ALIAS marquee_${name})
  target_include_directories(marquee_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(marquee_${name} PUBLIC ${M_DEPS})
  if(M_TESTS)
    add_executable(marquee_${name}_tests ${M_TESTS})
    target_link_libraries(marquee_${name}_tests PRIVATE marquee_${name} marquee::test_support GTest::gtest_main GTest::gmock)
    marquee_test_code(marquee_${name}_tests)
    gtest_discover_tests(marquee_${name}_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)
  endif()
  if(M_DB_TESTS)
    add_executable(marquee_${name}_dbtests ${M_DB_TESTS})
    target_link_libraries(marquee_${name}_dbtests PRIVATE marquee_${name} marquee::test_support GTest::gtest_main GTest::gmock)
    marquee_test_code(marquee_${name}_dbtests)
    gtest_discover_tests(marquee_${name}_dbtests PROPERTIES LABELS db TIMEOUT 120 DISCOVERY_TIMEOUT 60)
  endif()
endfunction()
