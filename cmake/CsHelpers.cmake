# cs_library(NAME SRCS a.cc b.cc DEPS cs::x ext::y) -> static library target cs_NAME, alias cs::NAME.
function(cs_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(cs_${name} STATIC ${ARG_SRCS})
  add_library(cs::${name} ALIAS cs_${name})
  target_include_directories(cs_${name} PUBLIC ${CMAKE_SOURCE_DIR})
  target_link_libraries(cs_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  cs_warnings(cs_${name})
endfunction()

# cs_test(NAME SRCS a_test.cc DEPS cs::x LABELS unit|integration|e2e) -> test binary + ctest entry.
function(cs_test name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    CS_SOURCE_DIR="${CMAKE_SOURCE_DIR}" CS_BINARY_DIR="${CMAKE_BINARY_DIR}")
  cs_warnings(${name})
  add_test(NAME ${name} COMMAND ${name} WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
  if(ARG_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()

function(cs_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror)
endfunction()
