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
    gtest_discover_tests(marquee_${name}_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)
  endif()
  if(M_DB_TESTS)
    add_executable(marquee_${name}_dbtests ${M_DB_TESTS})
    target_link_libraries(marquee_${name}_dbtests PRIVATE marquee_${name} marquee::test_support GTest::gtest_main GTest::gmock)
    gtest_discover_tests(marquee_${name}_dbtests PROPERTIES LABELS db TIMEOUT 120 DISCOVERY_TIMEOUT 60)
  endif()
endfunction()
