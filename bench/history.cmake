# The job store's history at 10,000 and 1,000,000 jobs: fill time, database size, open time and RSS,
# query latency in the store and through dfusd's GetHistory. `cmake --build <dir> --target
# bench-history` prints the table (bench/history).
if(NOT TARGET dfusd-store)
  return()
endif()
add_executable(history-fill ${CMAKE_CURRENT_LIST_DIR}/history-fill.c)
target_link_libraries(history-fill PRIVATE dfusd-store)
add_executable(history-query ${CMAKE_CURRENT_LIST_DIR}/history-query.c)
target_link_libraries(history-query PRIVATE dfusd-store)
add_executable(history-bus ${CMAKE_CURRENT_LIST_DIR}/history-bus.c)
target_link_libraries(history-bus PRIVATE dfusd-common PkgConfig::LIBSYSTEMD)
# dfusd is not a dependency: the daemon part runs when a dfusd binary is there and is skipped otherwise.
add_custom_target(
  bench-history
  COMMAND ${CMAKE_COMMAND} -E env HISTORY_FILL=$<TARGET_FILE:history-fill>
          HISTORY_QUERY=$<TARGET_FILE:history-query> HISTORY_BUS=$<TARGET_FILE:history-bus>
          DFUSD_BIN=${CMAKE_BINARY_DIR}/daemon/dfusd ${CMAKE_CURRENT_LIST_DIR}/history
  DEPENDS history-fill history-query history-bus
  USES_TERMINAL
  COMMENT "job store history benchmark")
