# The DfuSe engine against dfu-util and the device-bound minimum, on simulated boards:
# `cmake --build <dir> --target bench-engine` prints the table (bench/engine-flash).
if(NOT TARGET engine-flash OR NOT TARGET dfusd-sim)
  return()
endif()
add_custom_target(
  bench-engine
  COMMAND ${CMAKE_COMMAND} -E env DFUSD_SIM=$<TARGET_FILE:dfusd-sim> ENGINE_FLASH=$<TARGET_FILE:engine-flash>
          ${CMAKE_CURRENT_LIST_DIR}/engine-flash
  DEPENDS engine-flash dfusd-sim
  USES_TERMINAL
  COMMENT "DfuSe engine benchmark")
