# dfusd-web's event stream under load: `cmake --build <dir> --target bench-sse` prints the table.
if(NOT TARGET dfusd-web OR NOT TARGET dfusd-integ-harness)
  return()
endif()
add_executable(sse-bench ${CMAKE_CURRENT_LIST_DIR}/sse-bench.c ${PROJECT_SOURCE_DIR}/tests/web/web-client.c)
target_include_directories(sse-bench PRIVATE ${PROJECT_SOURCE_DIR}/tests/web)
target_link_libraries(sse-bench PRIVATE dfusd-integ-harness PkgConfig::JSONC PkgConfig::LIBSYSTEMD Threads::Threads)
add_dependencies(sse-bench dfusd dfusd-sim dfusd-web)
add_custom_target(
  bench-sse
  COMMAND ${CMAKE_COMMAND} -E env DFUSD_BIN=$<TARGET_FILE:dfusd> DFUSD_SIM=$<TARGET_FILE:dfusd-sim>
          DFUSD_WEB=$<TARGET_FILE:dfusd-web> $<TARGET_FILE:sse-bench>
  DEPENDS sse-bench
  USES_TERMINAL
  COMMENT "dfusd-web event stream benchmark")
