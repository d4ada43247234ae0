# dfusd under load through the bus: `cmake --build <dir> --target bench-daemon` prints the table.
if(NOT DFUSD_BUILD_DAEMON OR NOT DFUSD_BUILD_TESTS OR NOT TARGET dfusd OR NOT TARGET dfusd-integ-harness)
  return()
endif()
add_executable(daemon-bench ${CMAKE_CURRENT_LIST_DIR}/daemon-bench.c)
target_link_libraries(daemon-bench PRIVATE dfusd-integ-harness PkgConfig::JSONC)
add_dependencies(daemon-bench dfusd dfusd-sim)
add_custom_target(
  bench-daemon
  COMMAND ${CMAKE_COMMAND} -E env DFUSD_BIN=$<TARGET_FILE:dfusd> DFUSD_SIM=$<TARGET_FILE:dfusd-sim>
          $<TARGET_FILE:daemon-bench>
  DEPENDS daemon-bench
  USES_TERMINAL
  COMMENT "dfusd daemon benchmark")
