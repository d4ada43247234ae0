# What per-board values cost: `cmake --build <dir> --target bench-serial` prints the table.
if(NOT DFUSD_BUILD_DAEMON OR NOT DFUSD_BUILD_TESTS OR NOT TARGET dfusd OR NOT TARGET dfusd-integ-harness)
  return()
endif()
add_executable(serial-bench ${CMAKE_CURRENT_LIST_DIR}/serial-bench.c)
target_link_libraries(serial-bench PRIVATE dfusd-integ-harness)
add_dependencies(serial-bench dfusd dfusd-sim)
add_custom_target(
  bench-serial
  COMMAND ${CMAKE_COMMAND} -E env DFUSD_BIN=$<TARGET_FILE:dfusd> DFUSD_SIM=$<TARGET_FILE:dfusd-sim>
          $<TARGET_FILE:serial-bench>
  DEPENDS serial-bench
  USES_TERMINAL
  COMMENT "dfusd per-board values benchmark")
