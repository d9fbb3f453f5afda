# Shared build settings: one interface target for warnings and sanitizers, and a helper that
# declares one library per module (explicit sources, includes rooted at src/).

add_library(retention_warnings INTERFACE)
target_compile_options(retention_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Woverloaded-virtual -Wimplicit-fallthrough)
if(WERROR)
  target_compile_options(retention_warnings INTERFACE -Werror)
endif()
if(RETENTION_SANITIZE)
  string(REPLACE ";" "," _san "${RETENTION_SANITIZE}")
  target_compile_options(retention_warnings INTERFACE -fsanitize=${_san} -fno-omit-frame-pointer)
  target_link_options(retention_warnings INTERFACE -fsanitize=${_san})
endif()

# retention_module(NAME SOURCES a.cc b.cc DEPS x y)
# Declares library retention_NAME with alias retention::NAME.
function(retention_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS" ${ARGN})
  add_library(retention_${name} STATIC ${M_SOURCES})
  add_library(retention::${name} ALIAS retention_${name})
  target_include_directories(retention_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(retention_${name} PUBLIC ${M_DEPS} PRIVATE retention_warnings)
endfunction()

# retention_test(NAME SOURCES a_test.cc DEPS x y): a GoogleTest executable registered with CTest.
option(RETENTION_ALLOW_MISSING_TESTS "Skip test targets whose sources do not exist yet (dev only)" OFF)

function(retention_test name)
  cmake_parse_arguments(T "" "" "SOURCES;DEPS" ${ARGN})
  if(RETENTION_ALLOW_MISSING_TESTS)
    foreach(src ${T_SOURCES})
      if(NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${src})
        message(WARNING "skipping ${name}: ${src} does not exist yet")
        return()
      endif()
    endforeach()
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_DEPS} GTest::gtest GTest::gmock GTest::gtest_main
                                        retention_warnings)
  add_test(NAME ${name} COMMAND ${name})
endfunction()
